"""What the forkserver of training workers loads once, before the first job arrives.

Every worker forked from it starts with the trainer imported and the default tokenizer
(cl100k_base, ~0.4 s to build) in memory.
"""

import ftkit.backend.worker  # noqa: F401
from ftkit.data.tokens import get_encoding

get_encoding("cl100k_base")
