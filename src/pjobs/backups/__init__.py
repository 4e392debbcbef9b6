"""Backups of tenant databases: dumped (`dump`), compressed and encrypted as a stream
(`stream`), stored and read back (`pjobs.adapters.backup_storage`), restored (`restore`)."""
