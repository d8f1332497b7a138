// Runs de.bwaldvogel:mongo-java-server, an in-memory MongoDB wire-protocol
// server, for the mongo store backend's contract tests (scripts/mongo-server.sh).
//
// Usage: java -cp '.tools/mongo-java-server/lib/*' MongoServerMain.java [host] [port]
// Port 0 picks a free port. Prints the connection URI on the first line of
// stdout, then serves until stdin closes or the process is signalled.

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.ServerVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

import java.net.InetSocketAddress;

public class MongoServerMain {
    public static void main(String[] args) throws Exception {
        String host = args.length > 0 ? args[0] : "127.0.0.1";
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        MongoServer server = new MongoServer(new MemoryBackend().version(ServerVersion.MONGO_4_0));
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        InetSocketAddress addr = server.getLocalAddress();
        System.out.println("mongodb://" + addr.getHostString() + ":" + addr.getPort() + "/");
        System.out.flush();
        // Serve until stdin reaches EOF (the parent went away) or a signal.
        try {
            while (System.in.read() != -1) {
                // ignore input
            }
        } catch (Exception e) {
            // stdin closed
        }
        if (System.getenv("MONGO_SERVER_DAEMON") != null) {
            Thread.currentThread().join(); // started by `start`: stdin is /dev/null
        }
        server.shutdownNow();
    }
}
