"""libvirt's own asyncio event implementation (libvirtaio, shipped with
python3-libvirt) driving the event API: under libvirt-python and under
virsnap (as `libvirt`), same output expected.

    python event_asyncio.py libvirt | virsnap
"""

import asyncio
import importlib.util
import os
import sys

if sys.argv[1:] == ["virsnap"]:
    import virsnap

    sys.modules["libvirt"] = virsnap
import libvirt  # noqa: E402

spec = importlib.util.spec_from_file_location("libvirtaio", "/usr/lib/python3/dist-packages/libvirtaio.py")
libvirtaio = importlib.util.module_from_spec(spec)
spec.loader.exec_module(libvirtaio)

loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
libvirtaio.virEventRegisterAsyncIOImpl(loop=loop)
r, w = os.pipe()
got = []
done = asyncio.Event()


def on_read(watch, fd, events, opaque):
    got.append(("handle", fd == r, events, opaque, os.read(fd, 1)))
    libvirt.virEventRemoveHandle(watch)
    done.set()


def on_timer(timer, opaque):
    got.append(("timer", opaque))
    libvirt.virEventRemoveTimeout(timer)
    os.write(w, b"x")


print("ids", libvirt.virEventAddHandle(r, libvirt.VIR_EVENT_HANDLE_READABLE, on_read, "H"),
      libvirt.virEventAddTimeout(10, on_timer, "T"))
loop.run_until_complete(asyncio.wait_for(done.wait(), 600))
loop.run_until_complete(asyncio.sleep(0.05))  # let libvirtaio run its scheduled frees
print("got", got)
# libvirtaio logs the unknown id and returns -1; libvirt-python answers 0
try:
    print("remove unknown", libvirt.virEventRemoveHandle(12345))
except libvirt.libvirtError as e:
    print("remove unknown", "error", str(e))
