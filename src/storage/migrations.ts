// The SQL schema, as the ordered list of migrations that builds it. This is the only place
// the schema is written down; a database records how many of these it has applied in its
// user_version. Never edit a migration that has shipped: add a new one.

export const MIGRATIONS: readonly string[] = [
  // 1: accounts and their SCRAM credentials (RFC 5802 §3: StoredKey and ServerKey, never the password).
  `
  CREATE TABLE accounts (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (host, username)
  ) WITHOUT ROWID;

  CREATE TABLE credentials (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    hash TEXT NOT NULL CHECK (hash IN ('SHA-1', 'SHA-256')),
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    PRIMARY KEY (host, username, hash),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username) ON DELETE CASCADE
  ) WITHOUT ROWID;
  `,
];
