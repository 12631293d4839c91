"""The configs of every command (the top-level conf/ folder): YAML files found by Hydra."""
