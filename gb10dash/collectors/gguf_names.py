"""How GGUF files are named on a model share (pure): a split model's parts are
`STEM-00001-of-00003.gguf` … `STEM-00003-of-00003.gguf` (llama.cpp's gguf-split)."""

from __future__ import annotations

import re

SPLIT_RE = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
