-- migrate:up
CREATE TABLE orders (id INTEGER PRIMARY KEY, total_cents INTEGER NOT NULL);

-- migrate:down
DROP TABLE orders;
