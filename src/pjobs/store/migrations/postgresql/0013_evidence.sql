-- The evidence of monitoring alerts: the figures an alert carried (requests_per_minute,
-- error_rate, …), and where each figure of an abuse evaluation came from: the alert that
-- asked for it, or pjobs' own usage data ({"requests_per_minute": "alert", …}).
ALTER TABLE alerts ADD COLUMN metrics text NOT NULL DEFAULT '{}';
ALTER TABLE abuse_detections ADD COLUMN sources text NOT NULL DEFAULT '{}';
