"""What the forkserver of training workers loads once, before the first job arrives.

Every worker forked from it starts with the trainer imported and the default tokenizer
(cl100k_base, ~0.4 s to build) in memory. When its server process ends, the forkserver exits
without tearing that heap down (~0.5 s): it shares the server's stdout and stderr, so whoever
reads those (a pipe, `| tee`) would wait for it. Its workers end through `os._exit` and never
run this. The preload runs with the cyclic GC off and freezes what it loaded (see
`ftkit.gc_pause`), so every worker also starts with those objects out of its collections.
"""

import atexit
import os

from ftkit.gc_pause import imports_without_gc

with imports_without_gc():
    import ftkit.backend.training.storage
    import ftkit.backend.training.trainer
    import ftkit.backend.worker  # noqa: F401
    from ftkit.data.tokens import get_encoding

    get_encoding("cl100k_base")
atexit.register(os._exit, 0)
