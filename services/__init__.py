"""The agent services of the platform, one package each."""
