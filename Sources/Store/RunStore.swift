import AblateCore
import Foundation
import GRDB

/// The SQLite run store (one file, WAL mode, shared safely by several processes).
///
/// Opening checks, in order, and never rewrites a file it does not recognise:
/// the folder can be created and written; an existing file starts with the SQLite header; its
/// `PRAGMA user_version` is not newer than `RunStore.schemaVersion`; and a non-empty database carries ablate's
/// marker (`PRAGMA application_id` = `RunStore.applicationID` and the `ablate_meta` table). Then the versioned
/// migrations (GRDB `DatabaseMigrator`) bring an older or new file up to date.
///
/// Writes run in `BEGIN IMMEDIATE` transactions with a busy timeout, so two processes claiming runs at once
/// serialise on SQLite's write lock and never claim the same run.
public final class RunStore: @unchecked Sendable {
    /// The schema version this binary writes (`PRAGMA user_version`).
    public static let schemaVersion = 7
    /// `PRAGMA application_id` of ablate run stores: "ABLT".
    public static let applicationID: Int32 = 0x41424C54
    /// Default location, relative to the working directory (git-ignored).
    public static let defaultPath = "runs/ablate.sqlite"

    public let path: String
    let dbQueue: DatabaseQueue
    /// Time source; tests replace it to simulate stale heartbeats.
    public var clock: @Sendable () -> Date

    /// Opens the run store at `path`, creating it (and its folder) when `create` is true.
    /// - Parameter busyTimeout: how long a write waits for another process's write lock before failing.
    public init(path: String, create: Bool = true, busyTimeout: TimeInterval = 30,
                clock: @escaping @Sendable () -> Date = { Date() }) throws {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        self.path = absolute
        self.clock = clock
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let exists = fm.fileExists(atPath: absolute, isDirectory: &isDir)
        if exists && isDir.boolValue {
            throw StoreError.notWritable(path: absolute, reason: "it is a folder, not a file")
        }
        let folder = (absolute as NSString).deletingLastPathComponent
        // SQLite cannot even read a WAL store there (it needs its -shm file); say so instead of blaming the file.
        if let readOnly = RunStore.readOnlyFileSystem(containing: folder) {
            throw StoreError.notWritable(path: absolute, reason: "the file system holding \(readOnly) is read-only "
                + "(SQLite needs to write the store and its -wal and -shm files, even to read it); copy the store "
                + "to a writable place")
        }
        if exists {
            try RunStore.inspectExisting(absolute, busyTimeout: busyTimeout)
        } else {
            guard create else { throw StoreError.missing(path: absolute) }
            do {
                try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw StoreError.notWritable(path: absolute, reason: "cannot create the folder \(folder) "
                    + "(\(RunStore.shortReason(error)))")
            }
        }
        if access(folder, W_OK) != 0 {
            throw StoreError.notWritable(path: absolute, reason: "the folder \(folder) is not writable "
                + "(SQLite needs to create its -wal and -shm files next to the database)")
        }
        if exists && access(absolute, W_OK) != 0 {
            throw StoreError.notWritable(path: absolute, reason: "the file is read-only")
        }

        var config = Configuration()
        config.journalMode = .wal
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.label = "ablate-run-store"
        // Switching a new file to WAL needs a moment of exclusive access; a second process opening the same
        // new store at that moment gets SQLITE_BUSY before the busy timeout applies, so it waits and retries.
        var opened: DatabaseQueue?
        var attempt = 0
        while opened == nil {
            do {
                opened = try DatabaseQueue(path: absolute, configuration: config)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 100 {
                attempt += 1
                usleep(50_000)
            } catch {
                throw StoreError.notWritable(path: absolute, reason: RunStore.shortReason(error))
            }
        }
        dbQueue = opened!
        let migrator = RunStore.migrator
        do {
            try RunStore.retryingRaces {
                // A new file gets its whole schema, marker and store id in one transaction, so another process
                // opening it at the same moment sees either nothing (and waits on the write lock) or all of it.
                try RunStore.createSchemaIfBlank(dbQueue, path: absolute)
                let superseded = try dbQueue.read { db in try migrator.hasBeenSuperseded(db) }
                if superseded {
                    let version = try dbQueue.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
                    throw StoreError.newerSchema(path: absolute, found: max(version, RunStore.schemaVersion + 1),
                                                 supported: RunStore.schemaVersion)
                }
                // Stores written by an older ablate are brought up to date, one migration per transaction.
                try migrator.migrate(dbQueue)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(path: absolute, message: RunStore.shortReason(error))
        }
    }

    /// Opens an existing run store for reading only (a merge source, a task's store seen by `status`): the file
    /// is checked like any other, never migrated and never written.
    public init(readingOnly path: String, busyTimeout: TimeInterval = 30) throws {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        self.path = absolute
        self.clock = { Date() }
        guard FileManager.default.fileExists(atPath: absolute) else { throw StoreError.missing(path: absolute) }
        try RunStore.inspectExisting(absolute, busyTimeout: busyTimeout)
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(busyTimeout)
        config.label = "ablate-run-store-read-only"
        do {
            dbQueue = try DatabaseQueue(path: absolute, configuration: config)
        } catch {
            throw StoreError.notAnAblateDatabase(path: absolute, reason: "SQLite cannot open it for reading "
                + "(\(RunStore.shortReason(error)))")
        }
    }

    /// Opens an existing store for a command that only reads it (`status`, `export`, `report`, `predict`):
    /// writable when it can be (a store of an older ablate is brought up to date first, as every command does),
    /// else read-only, so a store the user may not write (another user's, a read-only copy) can still be read.
    public static func forReading(_ path: String) throws -> RunStore {
        do {
            return try RunStore(path: path, create: false)
        } catch let writable as StoreError {
            guard case .notWritable = writable else { throw writable }
            // When it cannot be read either, why it cannot be written is the more useful message.
            guard let store = try? RunStore(readingOnly: path) else { throw writable }
            // A store of an older ablate is read through the current schema only after its migrations, which write.
            let version = (try? store.dbQueue.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") }) ?? nil
            if let version, version < schemaVersion {
                try? store.close()
                throw StoreError.notWritable(path: store.path, reason: "it was written by an older ablate (schema "
                    + "\(version); this one reads \(schemaVersion)) and must be brought up to date first, which needs "
                    + "write access: copy it to a writable place and run the command on the copy")
            }
            return store
        }
    }

    /// Two processes creating the same new store race to apply the first migration: the loser's transaction
    /// rolls back ("table … already exists") or reads the schema mid-change. Trying again finds it applied.
    static func retryingRaces(_ body: () throws -> Void) throws {
        var attempt = 0
        while true {
            do { return try body() } catch let error as DatabaseError {
                attempt += 1
                if attempt >= 5 { throw error }
                usleep(useconds_t(50_000 * attempt))
            }
        }
    }

    // MARK: - Opening checks

    static let sqliteHeader = Array("SQLite format 3\u{0}".utf8)

    /// Stores whose header this process has read and found to be SQLite's. Reading it again through a descriptor
    /// of our own would be harmful once SQLite holds the file open in this process: closing any descriptor of a
    /// file drops all of the process's POSIX locks on it, those of SQLite's connection included (SQLite's own
    /// VFS defers such closes; a Foundation FileHandle does not). So the header is read once per path.
    nonisolated(unsafe) private static var checkedHeaders = Set<String>()
    private static let checkedHeadersLock = NSLock()

    /// Checks an existing file without changing it: SQLite header, readable schema, ablate marker, version.
    static func inspectExisting(_ path: String, busyTimeout: TimeInterval = 30) throws {
        checkedHeadersLock.lock()
        let headerChecked = checkedHeaders.contains(path)
        checkedHeadersLock.unlock()
        if !headerChecked {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw StoreError.notWritable(path: path, reason: "the file cannot be opened for reading")
            }
            let head = [UInt8](handle.readData(ofLength: 16))
            try? handle.close()
            if head.isEmpty { return }  // an empty file is an empty database: initialise it
            guard head == sqliteHeader else {
                throw StoreError.notAnAblateDatabase(path: path, reason:
                    "it does not start with the SQLite header (a text file, or a corrupt or foreign file)")
            }
            checkedHeadersLock.lock()
            checkedHeaders.insert(path)
            checkedHeadersLock.unlock()
        }
        var config = Configuration()
        config.readonly = true
        // Another process may be writing, or recovering the WAL of one killed mid-write: wait, don't fail.
        config.busyMode = .timeout(busyTimeout)
        let facts: (appID: Int32, version: Int, tables: [String], migrationsApplied: Int)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            facts = try queue.read { db in
                let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let tables = try String.fetchAll(db, sql:
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                let applied = tables.contains("grdb_migrations")
                    ? try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM grdb_migrations") ?? 0 : 0
                return (appID, version, tables, applied)
            }
            // Before any write connection opens it (GRDB's WAL set-up itself writes to the file).
            try checkIntegrity(queue, path: path)
            try queue.close()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT {
            throw StoreError.corrupt(path: path, details: shortReason(error))
        } catch {
            let folder = (path as NSString).deletingLastPathComponent
            if access(folder, W_OK) != 0 {
                throw StoreError.notWritable(path: path, reason: "SQLite cannot read it (\(shortReason(error))): the "
                    + "folder \(folder) is not writable, and SQLite needs to create the store's -shm file there even "
                    + "to read it; copy the store to a writable folder")
            }
            throw StoreError.notAnAblateDatabase(path: path, reason:
                "SQLite cannot read it (\(shortReason(error))); it may be corrupt")
        }
        // A blank SQLite file, or one whose creation stopped before its first migration (an older ablate created
        // GRDB's bookkeeping table on its own first): initialise it, under the write lock (`createSchemaIfBlank`).
        if facts.appID == 0 && facts.tables.allSatisfy({ $0 == "grdb_migrations" }) && facts.migrationsApplied == 0 {
            return
        }
        guard facts.appID == applicationID, facts.tables.contains("ablate_meta") else {
            let shown = facts.tables.prefix(5).joined(separator: ", ")
            throw StoreError.notAnAblateDatabase(path: path, reason:
                "it is a SQLite database of another program (no ablate marker; its tables: \(shown))")
        }
        if facts.version > schemaVersion {
            throw StoreError.newerSchema(path: path, found: facts.version, supported: schemaVersion)
        }
    }

    /// The nearest existing folder of `path` when it lies on a read-only file system, else nil.
    static func readOnlyFileSystem(containing path: String) -> String? {
        var candidate = path
        while !FileManager.default.fileExists(atPath: candidate) && candidate != "/" {
            candidate = (candidate as NSString).deletingLastPathComponent
        }
        var info = statvfs()
        guard statvfs(candidate, &info) == 0, info.f_flag & UInt(ST_RDONLY) != 0 else { return nil }
        return candidate
    }

    /// `PRAGMA quick_check`: every page readable and every b-tree well formed (without the slower index
    /// comparisons of `integrity_check`). A damaged store is refused before anything is written into it.
    static func checkIntegrity(_ queue: DatabaseQueue, path: String) throws {
        let problems: [String]
        do {
            problems = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
            throw StoreError.corrupt(path: path, details: shortReason(error))
        }
        guard problems == ["ok"] else {
            throw StoreError.corrupt(path: path, details: problems.joined(separator: "; "))
        }
    }

    static func shortReason(_ error: Error) -> String {
        if let db = error as? DatabaseError {
            let message = db.message ?? "\(db.resultCode)"
            // A table or column of the schema is missing: the file was changed after ablate wrote it.
            if message.hasPrefix("no such table") || message.hasPrefix("no such column") { return message + alteredAdvice }
            return message
        }
        if error is RowDecodingError {
            return "a stored row lacks what ablate wrote into it (" + String("\(error)".prefix(200)) + ")" + alteredAdvice
        }
        let domain = (error as NSError).domain
        return domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain ? ErrorText.reason(error) : "\(error)"
    }

    /// What to do about a store whose tables are not the ones ablate created.
    static let alteredAdvice = "; the store was changed by another program: restore a copy of it, or build a new one "
        + "from exported runs (`ablate merge runs.json --into NEW.sqlite`)"

    // MARK: - Schema

    /// The migrations in order: (GRDB identifier, body). A new store runs them all in one transaction
    /// (`createSchemaIfBlank`); an older store runs the ones it lacks through GRDB's migrator.
    ///
    /// They stay SQL, and are never edited: each is the schema exactly as that version created it, so a store
    /// written by any earlier ablate migrates as it always did. The record types of `Tables.swift` describe the
    /// current tables for everything else; a migration written through them would change when they do. The
    /// opening checks above and `createSchemaIfBlank` are SQL for the same kind of reason: PRAGMAs, `sqlite_master`
    /// and GRDB's own `grdb_migrations` are no tables of ours.
    static let migrations: [(identifier: String, apply: @Sendable (Database) throws -> Void)] = [
        ("v1: experiments, runs, epochs, predictions", createVersion1),
        ("v2: store id", addStoreID),
        ("v3: external tests", addExternalTests),
        ("v4: lease holder", addLeaseHolder),
        ("v5: hardware", addHardware),
        ("v6: validation and selected epochs", addValidation),
        ("v7: starting weights", addInitReport),
    ]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for m in migrations { migrator.registerMigration(m.identifier, migrate: m.apply) }
        // Later versions: append "v8: ..." to `migrations`, bump `schemaVersion` and `PRAGMA user_version` in it.
        return migrator
    }

    static func createVersion1(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE ablate_meta (
                key   TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL
            );
            CREATE TABLE experiments (
                id        INTEGER PRIMARY KEY AUTOINCREMENT,
                name      TEXT NOT NULL UNIQUE,
                file_text TEXT NOT NULL,
                file_path TEXT,
                created   DATETIME NOT NULL,
                updated   DATETIME NOT NULL
            );
            CREATE TABLE runs (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                experiment_id   INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
                config_json     TEXT NOT NULL,
                config_hash     TEXT NOT NULL,
                label           TEXT NOT NULL,
                seed            INTEGER,
                status          TEXT NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued','running','finished','failed','interrupted')),
                epochs_total    INTEGER NOT NULL,
                queued_at       DATETIME NOT NULL,
                heartbeat       DATETIME,
                host            TEXT,
                git_commit      TEXT,
                ablate_version  TEXT,
                threads         INTEGER,
                started_at      DATETIME,
                ended_at        DATETIME,
                error_message   TEXT,
                checkpoint_path TEXT,
                data_audit_json TEXT,
                claim_token     TEXT,
                attempts        INTEGER NOT NULL DEFAULT 0,
                UNIQUE (experiment_id, config_hash)
            );
            CREATE INDEX runs_status ON runs(status, id);
            CREATE TABLE epochs (
                run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                epoch             INTEGER NOT NULL,
                train_loss        REAL NOT NULL,
                train_acc         REAL NOT NULL,
                test_loss         REAL,
                test_acc          REAL,
                learning_rate     REAL NOT NULL,
                seconds           REAL NOT NULL,
                images_per_second REAL NOT NULL,
                recorded_at       DATETIME NOT NULL,
                PRIMARY KEY (run_id, epoch)
            );
            CREATE TABLE predictions (
                id            INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                kind          TEXT NOT NULL CHECK (kind IN ('best','last')),
                epoch         INTEGER NOT NULL,
                file          TEXT NOT NULL,
                label         INTEGER NOT NULL,
                predicted     INTEGER NOT NULL,
                probabilities TEXT NOT NULL, -- JSON array of class probabilities
                UNIQUE (run_id, kind, file)
            );
            """)
        try db.execute(sql: "INSERT INTO ablate_meta(key, value) VALUES ('format', 'ablate-run-store')")
        try db.execute(sql: "PRAGMA application_id = \(applicationID)")
        try db.execute(sql: "PRAGMA user_version = 1")
    }

    /// A random id written once per store: checkpoints carry it, so a checkpoint left in a runs folder by another
    /// store (e.g. after deleting the database to start over) is never resumed as if it were this store's run.
    static func addStoreID(_ db: Database) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO ablate_meta(key, value) VALUES ('store_id', ?)",
                       arguments: [UUID().uuidString.lowercased()])
        try db.execute(sql: "PRAGMA user_version = 2")
    }

    /// Results of `ablate evaluate`: one row per (run, test set, weights) and its per-image predictions. The
    /// metrics columns are what `evaluate` printed (for SQL users); the report recomputes everything from the
    /// predictions, so a different positive class gives consistent numbers.
    static func addExternalTests(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE external_tests (
                id             INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                name           TEXT NOT NULL,    -- the test set's name (its folder name unless given)
                weights        TEXT NOT NULL CHECK (weights IN ('best','last')),
                epoch          INTEGER NOT NULL, -- the epoch the weights come from
                directory      TEXT NOT NULL,
                images         INTEGER NOT NULL,
                accuracy       REAL NOT NULL,
                positive_class TEXT,
                sensitivity    REAL,
                specificity    REAL,
                roc_auc        REAL,
                audit_json     TEXT NOT NULL,    -- overlap of the test set with the run's training files
                evaluated_at   DATETIME NOT NULL,
                UNIQUE (run_id, name, weights)
            );
            CREATE TABLE external_predictions (
                test_id       INTEGER NOT NULL REFERENCES external_tests(id) ON DELETE CASCADE,
                file          TEXT NOT NULL,
                label         INTEGER NOT NULL,
                predicted     INTEGER NOT NULL,
                probabilities TEXT NOT NULL, -- JSON array of class probabilities
                PRIMARY KEY (test_id, file)
            );
            """)
        try db.execute(sql: "PRAGMA user_version = 3")
    }

    /// The process holding a running run's lease (`LeaseHolder`: boot id, pid namespace, pid and, where an
    /// ablate that keeps it wrote the row, start time; the host is in
    /// `host`), so a process on the same machine can resume a run whose holder died without waiting for the
    /// heartbeat to go stale. NULL when no process holds the run, or for leases taken by an older ablate.
    static func addLeaseHolder(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE runs ADD COLUMN lease_holder TEXT")
        try db.execute(sql: "PRAGMA user_version = 4")
    }

    /// The machines a run trained on (processor, ISA, CPUs, threads, memory, oneDNN/OpenBLAS versions, backend):
    /// a JSON array, one entry per machine in the order the run trained on them. NULL for runs of older stores.
    static func addHardware(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE runs ADD COLUMN hardware_json TEXT")
        try db.execute(sql: "PRAGMA user_version = 5")
    }

    /// Validation metrics per epoch (NULL without a validation part), the epoch early stopping ended a run after
    /// (NULL: it trained every epoch), and `selected` as a third kind of weights for predictions and external tests
    /// (SQLite cannot change a CHECK constraint: both tables are rebuilt with their rows and ids).
    static func addValidation(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE epochs ADD COLUMN val_loss REAL;
            ALTER TABLE epochs ADD COLUMN val_acc REAL;
            ALTER TABLE runs ADD COLUMN stopped_early_at INTEGER;
            CREATE TABLE predictions_v6 (
                id            INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                kind          TEXT NOT NULL CHECK (kind IN ('best','last','selected')),
                epoch         INTEGER NOT NULL,
                file          TEXT NOT NULL,
                label         INTEGER NOT NULL,
                predicted     INTEGER NOT NULL,
                probabilities TEXT NOT NULL, -- JSON array of class probabilities
                UNIQUE (run_id, kind, file)
            );
            INSERT INTO predictions_v6 SELECT id, run_id, kind, epoch, file, label, predicted, probabilities FROM predictions;
            DROP TABLE predictions;
            ALTER TABLE predictions_v6 RENAME TO predictions;
            CREATE TABLE external_tests_v6 (
                id             INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                name           TEXT NOT NULL,    -- the test set's name (its folder name unless given)
                weights        TEXT NOT NULL CHECK (weights IN ('best','last','selected')),
                epoch          INTEGER NOT NULL, -- the epoch the weights come from
                directory      TEXT NOT NULL,
                images         INTEGER NOT NULL,
                accuracy       REAL NOT NULL,
                positive_class TEXT,
                sensitivity    REAL,
                specificity    REAL,
                roc_auc        REAL,
                audit_json     TEXT NOT NULL,    -- overlap of the test set with the run's training files
                evaluated_at   DATETIME NOT NULL,
                UNIQUE (run_id, name, weights)
            );
            INSERT INTO external_tests_v6 SELECT id, run_id, name, weights, epoch, directory, images, accuracy,
                positive_class, sensitivity, specificity, roc_auc, audit_json, evaluated_at FROM external_tests;
            CREATE TEMP TABLE external_predictions_kept AS SELECT * FROM external_predictions;
            DELETE FROM external_predictions;
            DROP TABLE external_tests;
            ALTER TABLE external_tests_v6 RENAME TO external_tests;
            INSERT INTO external_predictions SELECT * FROM external_predictions_kept;
            DROP TABLE external_predictions_kept;
            PRAGMA user_version = 6;
            """)
    }

    /// What loading a run's `model.init_from` weights did (the load report as JSON); NULL for fresh weights.
    static func addInitReport(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE runs ADD COLUMN init_report_json TEXT")
        try db.execute(sql: "PRAGMA user_version = 7")
    }

    /// Creates schema, marker and store id of a blank database in one `BEGIN IMMEDIATE` transaction, together
    /// with GRDB's record of the applied migrations. The check runs under the write lock, so of several processes
    /// opening a new file at once exactly one creates it and the others find it complete.
    static func createSchemaIfBlank(_ queue: DatabaseQueue, path: String) throws {
        try queue.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                let tables = try String.fetchAll(db, sql:
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                if tables.contains("ablate_meta") { return .commit }
                let applied = tables.contains("grdb_migrations")
                    ? try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM grdb_migrations") ?? 0 : 0
                // Anything else was written by another program: `inspectExisting` refuses it; never touch it here.
                guard tables.allSatisfy({ $0 == "grdb_migrations" }), applied == 0 else { return .commit }
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                for m in migrations {
                    try m.apply(db)
                    try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES (?)", arguments: [m.identifier])
                }
                return .commit
            }
        }
    }

    /// This store's id (see `addStoreID`).
    public func storeID() throws -> String {
        try read { db in
            guard let id = try MetaRow.fetchOne(db, key: MetaRow.storeIDKey)?.value else {
                throw StoreError.database(path: path, message: "its ablate_meta table has no store_id")
            }
            return id
        }
    }

    /// `PRAGMA user_version` of the open file.
    public func userVersion() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    /// Identifiers of the migrations applied to the open file.
    public func appliedMigrations() throws -> [String] {
        try read { db in try RunStore.migrator.completedMigrations(db) }
    }

    // MARK: - Transactions

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try dbQueue.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(path: path, message: RunStore.shortReason(error))
        }
    }

    /// One `BEGIN IMMEDIATE` transaction: takes the write lock first, so read-then-write is atomic across
    /// processes.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try dbQueue.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(path: path, message: RunStore.shortReason(error))
        }
    }

    /// Closes the connection (also done on deinit).
    public func close() throws {
        try dbQueue.close()
    }
}
