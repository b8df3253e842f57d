"""Read-only analysis of a repository: configs, manifests, agents, tokens."""
