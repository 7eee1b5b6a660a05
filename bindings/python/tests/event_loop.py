"""The event API, run under libvirt-python and virsnap: same output expected.

    python event_loop.py libvirt | virsnap

Covers calls before any implementation is registered, the default loop's
handles (a pipe) and timers, ids, updates, removal, unknown ids, and a loop
run in a thread (the usual program shape) woken by a timer added from the
main thread while snapshot calls go on.
"""

import os
import sys
import threading

if sys.argv[1:] == ["virsnap"]:
    import virsnap as libvirt
else:
    import libvirt  # type: ignore[no-redef]


def step(name, f):
    try:
        r = f()
    except libvirt.libvirtError as e:
        print(name, "error", str(e), e.err, flush=True)
    else:
        print(name, "ok", repr(r), flush=True)


got = []


def noop(*args):
    pass


# before any implementation is registered
step("add_handle_unregistered", lambda: libvirt.virEventAddHandle(0, libvirt.VIR_EVENT_HANDLE_READABLE, noop, None))
step("add_timeout_unregistered", lambda: libvirt.virEventAddTimeout(10, noop, None))
step("remove_handle_unregistered", lambda: libvirt.virEventRemoveHandle(5))
step("remove_timeout_unregistered", lambda: libvirt.virEventRemoveTimeout(5))
step("update_handle_unregistered", lambda: libvirt.virEventUpdateHandle(5, 1))
step("update_timeout_unregistered", lambda: libvirt.virEventUpdateTimeout(5, 1))

step("register", libvirt.virEventRegisterDefaultImpl)
step("register_again", libvirt.virEventRegisterDefaultImpl)
step("remove_handle_unknown", lambda: libvirt.virEventRemoveHandle(12345))
step("remove_timeout_unknown", lambda: libvirt.virEventRemoveTimeout(12345))
step("update_timeout_unknown", lambda: libvirt.virEventUpdateTimeout(12345, 1))
step("update_handle_unknown", lambda: libvirt.virEventUpdateHandle(12345, 1))

r, w = os.pipe()


def on_read(watch, fd, events, opaque):
    got.append(("handle", watch, fd == r, events, opaque))
    os.read(fd, 1)


def on_timer(timer, opaque):
    got.append(("timer", timer, opaque))


watch = libvirt.virEventAddHandle(r, libvirt.VIR_EVENT_HANDLE_READABLE, on_read, "H")
timer = libvirt.virEventAddTimeout(0, on_timer, "T")
print("ids", watch, timer)
step("run_timer", libvirt.virEventRunDefaultImpl)
print("got", got)
del got[:]
libvirt.virEventUpdateTimeout(timer, -1)
os.write(w, b"x")
step("run_handle", libvirt.virEventRunDefaultImpl)
print("got", got)
del got[:]
libvirt.virEventUpdateHandle(watch, 0)
libvirt.virEventUpdateTimeout(timer, 1)
os.write(w, b"y")
step("run_handle_disabled", libvirt.virEventRunDefaultImpl)
print("got", got)
del got[:]
step("remove_handle", lambda: libvirt.virEventRemoveHandle(watch))
step("remove_handle_twice", lambda: libvirt.virEventRemoveHandle(watch))
step("remove_timeout", lambda: libvirt.virEventRemoveTimeout(timer))
step("remove_timeout_twice", lambda: libvirt.virEventRemoveTimeout(timer))
ids = (libvirt.virEventAddHandle(r, 1, noop, None), libvirt.virEventAddTimeout(-1, noop, None))
print("second ids", ids)
libvirt.virEventRemoveHandle(ids[0])
libvirt.virEventRemoveTimeout(ids[1])
os.read(r, 1)  # the "y" the disabled handle left

# the usual program: the loop in a daemon thread, snapshot work in the main one
stop = threading.Event()


def loop():
    while not stop.is_set():
        libvirt.virEventRunDefaultImpl()


thread = threading.Thread(target=loop, daemon=True)
thread.start()
fired = threading.Event()
libvirt.registerErrorHandler(lambda ctx, err: None, None)
conn = libvirt.open("test:///default")
dom = conn.lookupByName("test")
snap = dom.snapshotCreateXML("<domainsnapshot><name>ev</name></domainsnapshot>")
print("snapshot", snap.getName(), dom.snapshotListNames())


def once(timer, opaque):
    libvirt.virEventRemoveTimeout(timer)
    fired.set()


libvirt.virEventAddTimeout(50, once, None)
print("timer fired in the loop thread", fired.wait(600))
snap.delete()
conn.close()
# stop the loop thread before exiting: a timer wakes its last iteration
stop.set()
libvirt.virEventAddTimeout(0, noop, None)
thread.join(600)
print("loop thread stopped", not thread.is_alive())
