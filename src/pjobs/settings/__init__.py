"""Settings: the model and its groups (`config`, `groups`, `limits`), where they come from
(flags, `PJOBS_*` environment, the TOML file, defaults), where pjobs keeps its files
(`locations`), database URLs (`dburl`) and secrets read from files (`secretfile`).
Nothing here is imported at start-up beyond what `--help` and completion need."""
