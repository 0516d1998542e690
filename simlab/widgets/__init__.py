"""NAME
    simlab.widgets - consoles, composer, main.cf editor, log viewer and replay player

SUMMARY
    ConsoleWidget(ConsoleModel(net, "pc.example.com")); ComposerWidget(ComposerModel(...), MailboxModel(...))
    MainCfEditor(MainCfModel.for_context(ctx)); LogViewer(LogViewerModel(net.trace))
    ReplayPlayer(ReplayModel(net.trace))

DESCRIPTION
    Each widget is a plain-Python model (tested without a browser) and a thin
    ipywidgets view. A widget never raises: errors are shown in it in words.
    ipywidgets is imported only when a view is built.
"""

from __future__ import annotations

from .channel import RealChannel, VirtualChannel
from .composer import ComposerModel, ComposerWidget, MailboxModel, imap_reader, pop3_reader, smtp_sender
from .console import ConsoleModel, ConsoleWidget
from .logviewer import LogViewer, LogViewerModel, command_action
from .maincf_editor import MainCfEditor, MainCfModel
from .replay import ReplayModel, ReplayPlayer
from .session import Session

__all__ = ["ComposerModel", "ComposerWidget", "ConsoleModel", "ConsoleWidget", "LogViewer", "LogViewerModel",
           "MailboxModel", "MainCfEditor", "MainCfModel", "RealChannel", "ReplayModel", "ReplayPlayer", "Session",
           "VirtualChannel", "command_action", "imap_reader", "pop3_reader", "smtp_sender"]
