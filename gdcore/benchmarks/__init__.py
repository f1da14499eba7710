"""gdcore bench: per-epoch timings (epochs), networks (mlp) and time to solution (solve)."""
