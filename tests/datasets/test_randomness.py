"""Unseeded random transforms follow numpy's global generator, which mmengine seeds per run and per worker."""

import multiprocessing

import numpy as np

from bevfusion.datasets.transforms import GlobalRotScaleTrans, ImageAug3D


def _rotation(seed_before: int) -> np.ndarray:
    np.random.seed(seed_before)
    results = {"points": np.zeros((4, 5), np.float32), "lidar_aug": np.eye(4)}
    return GlobalRotScaleTrans(translation_std=(0.5, 0.5, 0.5))(results)["lidar_aug"]


def test_an_unseeded_transform_repeats_under_the_same_global_seed_and_differs_under_another():
    np.testing.assert_array_equal(_rotation(3), _rotation(3))
    assert not np.allclose(_rotation(3), _rotation(4))


def _draw_in_worker(queue, transform, worker_seed):
    np.random.seed(worker_seed)  # what mmengine's worker_init_fn does in each DataLoader worker
    queue.put(transform._sample(900, 1600))


def test_forked_workers_do_not_repeat_each_others_draws():
    transform = ImageAug3D(final_dim=(128, 352), resize_lim=(0.2, 0.3), rot_lim=(-5, 5), rand_flip=True)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_draw_in_worker, args=(queue, transform, seed)) for seed in (0, 1)]
    for worker in workers:
        worker.start()
    draws = [queue.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join()
    assert draws[0] != draws[1]
