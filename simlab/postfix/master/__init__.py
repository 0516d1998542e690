"""NAME
    master - Postfix's process manager, on the virtual network or real sockets

SUMMARY
    from simlab.postfix.master import Master, VirtualBinder, RealBinder, use_service, trigger
    master = Master(ctx, VirtualBinder(host)); await master.start()

DESCRIPTION
    master.py runs master.cf; assign.py gives each client a process of its
    service; process.py keeps the process table;
    binder.py opens listeners; services.py maps commands to code;
    registry.py lets other programs find a running master.

SEE ALSO
    master(8)
"""

from __future__ import annotations

from .binder import RealBinder, VirtualBinder
from .master import VERSION, Master
from .process import Process, ProcessTable, current_process
from .registry import acquire, find_master, is_running, master_pid, release, trigger, use_service

__all__ = ["VERSION", "Master", "Process", "ProcessTable", "RealBinder", "VirtualBinder", "acquire",
           "current_process", "find_master", "is_running", "master_pid", "release", "trigger",
           "use_service"]
