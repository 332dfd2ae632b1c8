"""Stage 4: deployment bundles, Loihi 2 core mapping, energy and spike-count reports."""
