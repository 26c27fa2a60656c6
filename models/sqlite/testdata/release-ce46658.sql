PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE `consent_texts` (`id` integer PRIMARY KEY AUTOINCREMENT,`hash` text NOT NULL,`text` text NOT NULL,`created_at` datetime NOT NULL);
INSERT INTO consent_texts VALUES(1,'41e58078ea7d6a4383866fd3300af1066d5905e705ebb9181b17479a87faa3f3','I agree to be contacted about other offerings by email. I can withdraw this consent at any time with the link in every email.','2026-12-02 13:38:19.84982996+00:00');
CREATE TABLE `leads` (`id` integer PRIMARY KEY AUTOINCREMENT,`public_id` text NOT NULL,`created_at` datetime NOT NULL,`name` text NOT NULL,`email` text NOT NULL,`email_key` text NOT NULL DEFAULT "",`phone` text NOT NULL DEFAULT "",`company` text NOT NULL DEFAULT "",`message` text NOT NULL,`page_url` text NOT NULL DEFAULT "",`utm_source` text NOT NULL DEFAULT "",`utm_medium` text NOT NULL DEFAULT "",`utm_campaign` text NOT NULL DEFAULT "",`utm_term` text NOT NULL DEFAULT "",`utm_content` text NOT NULL DEFAULT "",`opt_out_token` text NOT NULL,`confirm_token` text,`confirm_expires_at` datetime);
INSERT INTO leads VALUES(1,'agrdn6siheculnebcqddhjxrmbznllorcg2a','2026-12-02 13:38:21.881064832+00:00','Ada Example','ada@example.com','ada@example.com','+48 123','Example Ltd','We need a mobile app.','','','','','','','agrdn6sihe7rlgpntldlryyvxubbiifrw4xeqzty4q','agrdn6sihetefoaiazdemv6ponshpihq6udfflzd7q','2026-12-09 13:38:21.881064832+00:00');
INSERT INTO leads VALUES(2,'agrdn6sijcv56itrslpuk7agaxjtvgct3cvq','2026-12-02 13:38:21.896149229+00:00','Bob Example','bob@example.com','bob@example.com','','','Quote please.','','','','','','','agrdn6sijbwfbf3qgwa2ohyk6xgudbo2m2j3jhx7b4',NULL,NULL);
CREATE TABLE `consent_events` (`id` integer PRIMARY KEY AUTOINCREMENT,`subject` text NOT NULL,`purpose` text NOT NULL,`at` datetime NOT NULL,`action` text NOT NULL,`method` text NOT NULL,`lead_id` integer,`ip` text NOT NULL DEFAULT "",`user_agent` text NOT NULL DEFAULT "",`page_url` text NOT NULL DEFAULT "",`consent_text_id` integer,CONSTRAINT `fk_consent_events_consent_text` FOREIGN KEY (`consent_text_id`) REFERENCES `consent_texts`(`id`),CONSTRAINT `fk_leads_consent` FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`));
INSERT INTO consent_events VALUES(1,'ada@example.com','marketing_email','2026-12-02 13:38:21.881064832+00:00','given','form',1,'127.0.0.1','curl/7.88.1','',1);
INSERT INTO consent_events VALUES(2,'bob@example.com','marketing_email','2026-12-02 13:38:21.896149229+00:00','not_given','form',2,'127.0.0.1','curl/7.88.1','',1);
INSERT INTO consent_events VALUES(3,'ada@example.com','marketing_email','2026-12-02 13:38:26.116000242+00:00','confirmed','confirm_link',1,'127.0.0.1','curl/7.88.1','',1);
INSERT INTO consent_events VALUES(4,'bob@example.com','marketing_email','2026-12-02 13:38:26.135798592+00:00','withdrawn','optout_page',2,'127.0.0.1','curl/7.88.1','',NULL);
CREATE TABLE `outbox` (`id` integer PRIMARY KEY AUTOINCREMENT,`lead_id` integer NOT NULL,`kind` text NOT NULL,`recipient` text NOT NULL DEFAULT "",`status` text NOT NULL,`created_at` datetime NOT NULL,`next_attempt_at` datetime NOT NULL,`lease_until` datetime,`queued_at` datetime NOT NULL,`attempts` integer NOT NULL DEFAULT 0,`last_error` text NOT NULL DEFAULT "",`sent_at` datetime,`message_id` text NOT NULL,CONSTRAINT `fk_outbox_lead` FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON DELETE CASCADE);
INSERT INTO outbox VALUES(1,1,'sales_notification','<sales@localhost>','sent','2026-12-02 13:38:21.881064832+00:00','2026-12-02 13:38:21.881073365+00:00',NULL,'2026-12-02 13:38:21.881073365+00:00',1,'','2026-12-02 13:38:21.889534518+00:00','oaocvapgrgll3dec2a3dtge3gm');
INSERT INTO outbox VALUES(2,1,'consent_confirmation','','sent','2026-12-02 13:38:21.881064832+00:00','2026-12-02 13:38:21.881073365+00:00',NULL,'2026-12-02 13:38:21.881073365+00:00',1,'','2026-12-02 13:38:21.893529372+00:00','ymylh3wnwc6enn4dwcdapag7fi');
INSERT INTO outbox VALUES(3,2,'sales_notification','<sales@localhost>','sent','2026-12-02 13:38:21.896149229+00:00','2026-12-02 13:38:21.896157782+00:00',NULL,'2026-12-02 13:38:21.896157782+00:00',1,'','2026-12-02 13:38:21.899433382+00:00','eszjvpjmebuiwfdspjdgmpenzi');
CREATE TABLE `spam_tallies` (`hour` datetime,`reason` text,`count` integer NOT NULL,PRIMARY KEY (`hour`,`reason`));
CREATE TABLE `settings` (`name` text,`value` blob NOT NULL,PRIMARY KEY (`name`));
INSERT INTO settings VALUES('form_stamp',X'5692a81367f71cdc38ed8bb5c3212b0f2ca5375f47d6afa83da52c6d2230b8f2');
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('consent_texts',1);
INSERT INTO sqlite_sequence VALUES('leads',2);
INSERT INTO sqlite_sequence VALUES('consent_events',4);
INSERT INTO sqlite_sequence VALUES('outbox',3);
CREATE UNIQUE INDEX `idx_consent_texts_hash` ON `consent_texts`(`hash`);
CREATE UNIQUE INDEX `idx_leads_opt_out_token` ON `leads`(`opt_out_token`);
CREATE UNIQUE INDEX `idx_leads_public_id` ON `leads`(`public_id`);
CREATE INDEX `idx_consent_events_lead_id` ON `consent_events`(`lead_id`);
CREATE INDEX `idx_consent_subject` ON `consent_events`(`subject`,`purpose`);
CREATE INDEX `idx_outbox_due` ON `outbox`(`status`,`next_attempt_at`);
CREATE UNIQUE INDEX idx_leads_confirm_token_set ON leads (confirm_token)
	 WHERE confirm_token IS NOT NULL;
CREATE INDEX idx_outbox_confirmation_lead ON outbox (lead_id)
	 WHERE kind = 'consent_confirmation';
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
		 BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
		 BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;
COMMIT;
