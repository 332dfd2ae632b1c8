"""Lava processes of the Lava backend, in their own package: Lava's compiler imports every
module beside a process to find its models, and this keeps it from importing all of snnx.sim."""
