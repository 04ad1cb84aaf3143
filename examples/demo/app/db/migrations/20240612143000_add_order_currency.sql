-- migrate:up
ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR';

-- migrate:down
ALTER TABLE orders DROP COLUMN currency;
