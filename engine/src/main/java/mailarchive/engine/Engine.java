package mailarchive.engine;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.EmbeddedNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One single-node Elasticsearch cluster on 127.0.0.1 for the test suite, {@code make engine} and
 * {@code make bench}: data in a fresh temporary directory (deleted on exit), no security (the
 * x-pack plugins are not on the class path), discovery off.
 *
 * <p>Prints {@code MAILARCHIVE_TEST_ES_URL=http://127.0.0.1:PORT} on stdout once the cluster
 * answers a health request with at least yellow; everything else goes to stderr. Stops on SIGINT
 * or SIGTERM, and with {@code --exit-on-stdin-eof} also when its standard input closes, so a test
 * run that dies (even by SIGKILL) never leaves a node behind.
 *
 * <p>Options: {@code --port N} (HTTP port, default 0 = any free port), {@code --data DIR} (keep
 * the data in DIR instead of a temporary directory), {@code --refresh-interval T} (default of new
 * indices, 1s; see {@link IndexDefaultsPlugin}), {@code --exit-on-stdin-eof}.
 */
public final class Engine {
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    private Engine() {
    }

    public static void main(String[] args) throws Exception {
        int port = 0;
        Path data = null;
        String refreshInterval = "1s";
        boolean exitOnStdinEof = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(value(args, ++i));
                case "--data" -> data = Path.of(value(args, ++i));
                case "--refresh-interval" -> refreshInterval = value(args, ++i);
                case "--exit-on-stdin-eof" -> exitOnStdinEof = true;
                default -> usage("unknown option " + args[i]);
            }
        }
        if (port < 0 || port > 65535) usage("--port must be 0..65535");
        PrintStream stdout = System.out; // the server's logging set-up redirects System.out into its logger
        Path home = Files.createTempDirectory("mailarchive-engine-");
        Settings settings = settings(home, data == null ? home.resolve("data") : data, port, refreshInterval);
        configureLogging(settings, home);
        Node node = new EmbeddedNode(settings, List.of(Netty4Plugin.class, WhitespaceTokenizerPlugin.class, IndexDefaultsPlugin.class));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop(node, home);
            stopped.countDown();
        }, "engine-shutdown"));
        node.start();
        int boundPort = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress().getPort();
        String url = "http://127.0.0.1:" + boundPort;
        awaitHealthy(url);
        stdout.println("MAILARCHIVE_TEST_ES_URL=" + url);
        stdout.flush();
        if (exitOnStdinEof) {
            drain(System.in);
            System.exit(0);
        }
        stopped.await();
    }

    /** The node's settings: loopback only, single node, no disk watermarks (shared dev disks are often full). */
    static Settings settings(Path home, Path data, int port, String refreshInterval) {
        return Settings.builder()
            .put("cluster.name", "mailarchive-engine")
            .put("node.name", "engine")
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", port == 0 ? "0" : Integer.toString(port))
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("indices.breaker.total.use_real_memory", false)
            .put("mailarchive.engine.refresh_interval", refreshInterval)
            .build();
    }

    /** The server's own logging set-up, reading our log4j2.properties from {@code <home>/config}. */
    private static void configureLogging(Settings settings, Path home) throws IOException {
        Path config = Files.createDirectories(home.resolve("config"));
        try (InputStream in = Engine.class.getResourceAsStream("/log4j2.properties")) {
            Files.copy(in, config.resolve("log4j2.properties"));
        }
        LogConfigurator.setNodeName(settings.get("node.name"));
        LogConfigurator.setClusterName(settings.get("cluster.name"));
        LogConfigurator.configureESLogging();
        LogConfigurator.configure(new Environment(settings, config), true);
    }

    private static void awaitHealthy(String url) throws IOException, InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/_cluster/health?wait_for_status=yellow&timeout=60s"))
            .timeout(READY_TIMEOUT).build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (true) {
            try {
                HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) return;
                System.err.println("engine: cluster not ready yet: " + response.body());
            } catch (IOException e) {
                System.err.println("engine: cluster not reachable yet: " + e);
            }
            if (System.nanoTime() > deadline) throw new IOException("cluster at " + url + " not ready after " + READY_TIMEOUT);
            TimeUnit.MILLISECONDS.sleep(200);
        }
    }

    private static void drain(InputStream in) throws IOException {
        byte[] buffer = new byte[4096];
        while (in.read(buffer) >= 0) {
            // input is ignored; only its end matters
        }
    }

    private static void stop(Node node, Path home) {
        try {
            node.close();
            node.awaitClose(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.err.println("engine: stopping the node failed: " + e);
        }
        try {
            deleteTree(home); // with --data DIR, home holds only logs: DIR is kept
        } catch (IOException e) {
            System.err.println("engine: could not delete " + home + ": " + e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) usage(args[i - 1] + " needs a value");
        return args[i];
    }

    private static void usage(String problem) {
        System.err.println("engine: " + problem);
        System.err.println("usage: java -jar mailarchive-engine.jar [--port N] [--data DIR] [--refresh-interval T] [--exit-on-stdin-eof]");
        System.exit(2);
    }
}
