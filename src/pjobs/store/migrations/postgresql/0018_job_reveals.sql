-- Secrets a job reveals (new API keys), kept for the enqueue API's caller alone: a job
-- enqueued by `POST /api/jobs` names the public key of its token (reveal_to); what it
-- reveals is sealed to that key (X25519, AES-GCM) and handed out once, to that token.
ALTER TABLE jobs ADD COLUMN reveal_to text;
CREATE TABLE job_reveals (
    job_id bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    sealed text NOT NULL
);
