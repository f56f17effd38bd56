"""The core: one host's monitor and the state it builds, rates and histories, the wedge canary,
load progress, the memory split, and the Fleet over every host. No Textual, no UI, no actions."""
