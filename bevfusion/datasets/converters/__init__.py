"""Dataset converters: nuScenes tables -> v2 info files (`nuscenes_infos`), 0.x info files <-> v2
(`legacy_infos`, with the box row layouts in `box_layouts`), and the GT database (`gt_database`)."""
