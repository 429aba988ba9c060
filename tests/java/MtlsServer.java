// A small HTTPS server on Java's own TLS stack (JSSE), the stack under Tomcat, Jetty and
// Spring Boot, for tests/test_other_stacks.py.  Single file, JDK only; run with the source
// launcher so no build step is needed:
//
//   java tests/java/MtlsServer.java --keystore server.p12 --storepass PW
//        --truststore trust.p12 [--crl crl.pem] --listen PORT:MODE:PROTOCOLS ...
//
// MODE is need (SSLParameters.setNeedClientAuth: required), want (setWantClientAuth:
// requested, a client without a certificate gets in) or none; PROTOCOLS is TLSv1.2,
// TLSv1.3 or TLSv1.2+TLSv1.3.  Every --listen is one listener on 127.0.0.1 in the same JVM
// (Java starts slowly: one process serves every configuration): by default a
// com.sun.net.httpserver.HttpsServer (SSLEngine; it closes a failed connection without
// flushing JSSE's alert), with a fourth field PORT:MODE:PROTOCOLS:socket a blocking
// SSLServerSocket with one thread per connection (JSSE writes its alert before closing, as
// Tomcat and Jetty do).
// With --crl the trust manager checks revocation against that CRL file (PKIX with a
// CertStore, as Tomcat's certificateRevocationListFile does).  Every GET answers 200 "ok".
// One line "listening PORT" per listener on stdout once all of them accept.

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.KeyStore;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.X509CertSelector;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executors;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.TrustManagerFactory;

public class MtlsServer {
    public static void main(String[] args) throws Exception {
        String keystore = null, storepass = null, truststore = null, crl = null;
        List<String> listens = new ArrayList<>();
        for (int i = 0; i < args.length; i += 2) {
            String value = args[i + 1];
            switch (args[i]) {
                case "--keystore" -> keystore = value;
                case "--storepass" -> storepass = value;
                case "--truststore" -> truststore = value;
                case "--crl" -> crl = value;
                case "--listen" -> listens.add(value);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        char[] pass = storepass.toCharArray();

        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore)) {
            keys.load(in, pass);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, pass);

        KeyStore trust = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(truststore)) {
            trust.load(in, pass);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        if (crl != null) {
            Collection<? extends java.security.cert.CRL> crls;
            try (InputStream in = new FileInputStream(crl)) {
                crls = CertificateFactory.getInstance("X.509").generateCRLs(in);
            }
            PKIXBuilderParameters params = new PKIXBuilderParameters(trust, new X509CertSelector());
            params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(crls)));
            params.setRevocationEnabled(true);
            tmf.init(new CertPathTrustManagerParameters(params));
        } else {
            tmf.init(trust);
        }

        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);

        List<Integer> ports = new ArrayList<>();
        for (String listen : listens) {
            String[] parts = listen.split(":");
            int port = Integer.parseInt(parts[0]);
            String mode = parts[1];
            String[] protocols = parts[2].split("\\+");
            if (parts.length > 3 && parts[3].equals("socket")) {
                ports.add(socketServer(ctx, port, mode, protocols));
                continue;
            }
            HttpsServer server = HttpsServer.create(
                    new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port), 128);
            server.setHttpsConfigurator(new HttpsConfigurator(ctx) {
                @Override
                public void configure(HttpsParameters p) {
                    SSLParameters sp = ctx.getDefaultSSLParameters();
                    sp.setProtocols(protocols);
                    switch (mode) {
                        case "need" -> sp.setNeedClientAuth(true);
                        case "want" -> sp.setWantClientAuth(true);
                        case "none" -> { }
                        default -> throw new IllegalArgumentException("mode " + mode);
                    }
                    p.setSSLParameters(sp);
                }
            });
            server.createContext("/", exchange -> {
                byte[] body = "ok\n".getBytes();
                exchange.getResponseHeaders().set("Content-Type", "text/plain");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            });
            server.setExecutor(Executors.newCachedThreadPool());
            server.start();
            ports.add(server.getAddress().getPort());
        }
        for (int port : ports) {
            System.out.println("listening " + port);
        }
        System.out.flush();
        Thread.currentThread().join();
    }

    static int socketServer(SSLContext ctx, int port, String mode, String[] protocols)
            throws Exception {
        SSLServerSocket listener = (SSLServerSocket) ctx.getServerSocketFactory()
                .createServerSocket(port, 128, InetAddress.getByName("127.0.0.1"));
        listener.setEnabledProtocols(protocols);
        switch (mode) {
            case "need" -> listener.setNeedClientAuth(true);
            case "want" -> listener.setWantClientAuth(true);
            case "none" -> { }
            default -> throw new IllegalArgumentException("mode " + mode);
        }
        Thread accept = new Thread(() -> {
            while (true) {
                try {
                    Socket s = listener.accept();
                    new Thread(() -> answer(s)).start();
                } catch (Exception e) {
                    return;
                }
            }
        });
        accept.setDaemon(true);
        accept.start();
        return listener.getLocalPort();
    }

    static void answer(Socket s) {
        try (s) {
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            String line;
            while ((line = in.readLine()) != null && !line.isEmpty()) {
                // the request head; the handshake (and the certificate check) ran on first read
            }
            OutputStream out = s.getOutputStream();
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                    + "Connection: close\r\n\r\nok\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        } catch (Exception e) {
            // a refused handshake: JSSE has written its alert already
        }
    }
}
