"""Package versions recorded with every run and bundle, so a result can be reproduced."""

from __future__ import annotations

from importlib import metadata

PACKAGES = ("snnx", "torch", "snntorch", "nir", "nirtorch", "lava-nc", "lava-dl", "numpy", "h5py")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package ("not installed" when it is missing)."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
