"""gb10dash: a terminal dashboard for GB10 hosts serving LLMs with llama-server."""

import warnings

__version__ = "0.1.0"

# asyncssh 2.24 imports cryptography's DSA classes, which cryptography 48+ marks deprecated: ten lines of
# CryptographyDeprecationWarning before every command's own output, nothing the operator can act on.
# Only that one warning, only from asyncssh's modules, is silenced.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh\.")
