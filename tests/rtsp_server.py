"""A real RTSP server on 127.0.0.1 for the live tests: Debian's GStreamer RTSP server (run with /usr/bin/python3).

    /usr/bin/python3 tests/rtsp_server.py PORT RECORD_FILE [CLIP.mp4]

Serves /live: a generated 320x240 clip at 25 fps (test pattern with a running clock: live, it never ends), and
accepts publishing (RTSP RECORD) on /publish, writing what it receives to RECORD_FILE (MPEG-TS). With CLIP (an
H.264 MP4), also serves /clip: that file's video paced at its own frame rate, as a camera would send it, from
the start for each client. Prints "ready" once listening.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port, record = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
mounts = server.get_mount_points()

live = GstRtspServer.RTSPMediaFactory()
live.set_launch(
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
live.set_shared(True)
mounts.add_factory("/live", live)

publish = GstRtspServer.RTSPMediaFactory()
publish.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
publish.set_launch(f"( rtph264depay name=depay0 ! h264parse ! mpegtsmux ! filesink location={record} sync=false )")
publish.set_latency(0)
mounts.add_factory("/publish", publish)

if len(sys.argv) > 3:
    clip = GstRtspServer.RTSPMediaFactory()
    clip.set_launch(
        f"( filesrc location={sys.argv[3]} ! qtdemux name=d d.video_0 ! h264parse ! rtph264pay name=pay0 pt=96 "
        "config-interval=1 )"
    )
    mounts.add_factory("/clip", clip)

server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
