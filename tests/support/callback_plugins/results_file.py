"""A results file beside whatever the screen shows: the JSON callback's document (ansible.posix.json), written to
the path in ``SOPHIA_RESULTS_FILE`` when the run ends. A test that reads an operator's screen output (the default
callback, at -vvvv) can judge the same run's task results too, instead of running it twice."""

from __future__ import annotations

import os

from ansible_collections.ansible.posix.plugins.callback.json import CallbackModule as JsonCallback

DOCUMENTATION = """
    name: results_file
    short_description: The JSON callback's document, written to a file
    description: Writes what ansible.posix.json prints to the file named by SOPHIA_RESULTS_FILE.
    type: notification
    requirements:
      - enabled with ANSIBLE_CALLBACKS_ENABLED=results_file, found with ANSIBLE_CALLBACK_PLUGINS
    options:
      show_custom_stats:
        description: Add the custom stats (set_stats) to the document.
        default: false
        type: bool
      json_indent:
        description: Indent the JSON by this many spaces (0 writes one line).
        default: 0
        type: integer
"""


class _FileScreen:
    """Takes the JSON callback's one display() call, the document, and writes it to the file."""

    def __init__(self, path):
        self.path = path

    def display(self, text, *args, **kwargs):
        with open(self.path, "w", encoding="utf-8") as stream:
            stream.write(text)


class CallbackModule(JsonCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "results_file"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        screen, self._display = self._display, _FileScreen(os.environ["SOPHIA_RESULTS_FILE"])
        try:
            super().v2_playbook_on_stats(stats)
        finally:
            self._display = screen
