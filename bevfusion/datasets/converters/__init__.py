"""Dataset converters: nuScenes tables -> v2 info files (`nuscenes_infos`) and the GT database (`gt_database`)."""
