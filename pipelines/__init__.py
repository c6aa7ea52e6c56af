"""Streaming stages (installed as ``vidfsr.pipelines``): frames, faces, video I/O, detection, tracking,
the crop rule, batching and blending. This layer never imports ``vidfsr.models``."""
