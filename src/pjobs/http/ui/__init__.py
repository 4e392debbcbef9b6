"""The dashboard of `serve --http` (/ui/): the platform's jobs, projects, alerts, webhook
endpoints, backups and schedules in a browser, read-only unless a viewer's token may act.
`access` signs viewers in, `views` reads what pages show, `actions` changes things (each
audited), `pages` routes and renders."""
