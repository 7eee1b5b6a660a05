"""domain_events.py driven by libvirt's libvirtaio (asyncio) instead of the
default loop: python domain_events_asyncio.py libvirt|virsnap"""

import os
import runpy
import sys

sys.argv = [sys.argv[0], sys.argv[1], "asyncio"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "domain_events.py"), run_name="__main__")
