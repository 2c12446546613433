package io.contextd.neo4jtest;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilder;
import org.neo4j.harness.Neo4jBuilders;

/**
 * A real Neo4j (community edition, the version of neo4j-harness in pom.xml) for
 * contextd's integration tests: Bolt on a loopback port, no authentication, no
 * HTTP. When the database is ready, the Bolt URI is printed alone on one stdout
 * line (and written to --uri-file); everything else goes to stderr. It stops
 * cleanly on SIGTERM/SIGINT, and with --watch-stdin also when stdin closes.
 *
 * <pre>
 * java -cp 'target/neo4j-test-server.jar:target/lib/*' io.contextd.neo4jtest.Main \
 *      [--port N] [--dir PATH [--resume]] [--uri-file PATH] [--pagecache 256m] [--watch-stdin]
 * </pre>
 *
 * --port 0 (the default) takes a free port. --dir keeps the database there
 * (default: a temporary directory, deleted on exit); --resume starts from the
 * data a previous server (stopped or killed) left in --dir.
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        int port = 0;
        Path dir = null;
        Path uriFile = null;
        String pagecache = "256m";
        boolean watchStdin = false;
        boolean resume = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--port" -> port = Integer.parseInt(value(args, ++i, a));
                case "--dir" -> dir = Path.of(value(args, ++i, a));
                case "--uri-file" -> uriFile = Path.of(value(args, ++i, a));
                case "--pagecache" -> pagecache = value(args, ++i, a);
                case "--watch-stdin" -> watchStdin = true;
                case "--resume" -> resume = true;
                case "-h", "--help" -> {
                    System.err.println("usage: Main [--port N] [--dir PATH] [--resume] [--uri-file PATH] [--pagecache SIZE] [--watch-stdin]");
                    return;
                }
                default -> {
                    System.err.println("neo4j-test-server: unknown argument " + a);
                    System.exit(2);
                }
            }
        }
        if (port == 0) {
            port = freePort();
        }
        boolean tempDir = dir == null;
        if (tempDir) {
            dir = Files.createTempDirectory("neo4j-test-server-");
        }
        Files.createDirectories(dir);

        // The harness and Neo4j may write to stdout; the URI line must be the
        // only thing there, so stdout is kept for it and System.out goes to stderr.
        PrintStream uriOut = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.setOut(System.err);

        long started = System.nanoTime();
        // The harness makes a new server folder inside dir at every start; with
        // --resume it starts from a copy of the newest earlier one (the files as
        // a killed server left them: Neo4j recovers them from its transaction log).
        Path previous = resume ? newestServerFolder(dir) : null;
        Neo4jBuilder builder = Neo4jBuilders.newInProcessBuilder(dir)
                .withDisabledServer() // Bolt only: no HTTP endpoints
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .withConfig(GraphDatabaseSettings.pagecache_memory, parseBytes(pagecache));
        if (previous != null) {
            System.err.println("neo4j-test-server: resuming from " + previous);
            builder = builder.copyFrom(previous);
        }
        Neo4j neo4j = builder.build();

        CountDownLatch stop = new CountDownLatch(1);
        final Path finalDir = dir;
        final Path finalUriFile = uriFile;
        Thread hook = new Thread(() -> {
            System.err.println("neo4j-test-server: stopping");
            try {
                neo4j.close();
            } catch (RuntimeException e) {
                System.err.println("neo4j-test-server: close: " + e);
            }
            if (finalUriFile != null) {
                try {
                    Files.deleteIfExists(finalUriFile);
                } catch (IOException ignored) {
                    // best effort
                }
            }
            if (tempDir) {
                deleteTree(finalDir);
            }
            stop.countDown();
        }, "neo4j-test-server-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);

        String uri = "bolt://127.0.0.1:" + port;
        if (uriFile != null) {
            // Written whole, then renamed: a reader never sees half a URI.
            Path tmp = uriFile.resolveSibling(uriFile.getFileName() + ".tmp");
            Files.writeString(tmp, uri + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, uriFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        System.err.printf("neo4j-test-server: Neo4j ready at %s in %.1f s (data in %s)%n",
                uri, (System.nanoTime() - started) / 1e9, dir);
        uriOut.println(uri);

        if (watchStdin) {
            Thread watcher = new Thread(() -> {
                try (InputStream in = System.in) {
                    byte[] buf = new byte[256];
                    while (in.read(buf) >= 0) {
                        // drain until end of file
                    }
                } catch (IOException ignored) {
                    // closed
                }
                System.exit(0); // runs the shutdown hook
            }, "neo4j-test-server-stdin");
            watcher.setDaemon(true);
            watcher.start();
        }
        stop.await();
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            System.err.println("neo4j-test-server: " + flag + " needs a value");
            System.exit(2);
        }
        return args[i];
    }

    private static Path newestServerFolder(Path dir) throws IOException {
        try (var entries = Files.list(dir)) {
            return entries.filter(Files::isDirectory)
                    .max(java.util.Comparator.comparingLong(p -> p.toFile().lastModified()))
                    .orElse(null);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    /** Parses 256m, 1g, 512k or a plain number of bytes. */
    private static Long parseBytes(String s) {
        String v = s.trim().toLowerCase();
        long mult = 1;
        if (v.endsWith("k")) {
            mult = 1L << 10;
        } else if (v.endsWith("m")) {
            mult = 1L << 20;
        } else if (v.endsWith("g")) {
            mult = 1L << 30;
        }
        if (mult != 1) {
            v = v.substring(0, v.length() - 1);
        }
        return Long.parseLong(v) * mult;
    }

    private static void deleteTree(Path root) {
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
