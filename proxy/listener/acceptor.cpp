#include "proxy/listener/acceptor.hpp"

#include "proxy/downstream/connection.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <exception>

namespace atsgate::listener {

namespace asio = net::asio;

net::error_code check_port_free(const net::tcp::endpoint& ep) {
    asio::io_context io;
    net::tcp::acceptor probe(io);
    net::error_code ec;
    probe.open(ep.protocol(), ec);
    if (ec) return ec;
    // SO_REUSEADDR (but not SO_REUSEPORT): TIME_WAIT leftovers of our own previous run must not
    // block a restart, while a socket listening on the port still makes the bind fail.
    probe.set_option(net::tcp::acceptor::reuse_address(true), ec);
    // IPV6_V6ONLY like the real sockets, except for an IPv4-mapped address (::ffff:a.b.c.d), which
    // such a socket cannot bind (EINVAL); the admin endpoint may use one.
    if (ep.address().is_v6() && !ep.address().to_v6().is_v4_mapped()) probe.set_option(asio::ip::v6_only(true), ec);
    probe.bind(ep, ec);
    net::error_code ignore;
    probe.close(ignore);
    return ec;
}

int open_listen_socket(const net::tcp::endpoint& ep, net::error_code& ec) {
    auto fail = [&](int fd) {
        ec = net::error_code(errno, boost::system::system_category());
        if (fd >= 0) ::close(fd);
        return -1;
    };
    const bool v6 = ep.address().is_v6();
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(-1);
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return fail(fd);
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return fail(fd);
    if (v6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) return fail(fd);
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux copies the option to the child
    // socket): one setsockopt per listener instead of one per connection. atsgate coalesces its
    // writes itself, so Nagle would only delay them.
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) return fail(fd);
    // TCP_DEFER_ACCEPT (nginx's `listen ... deferred`): the kernel hands a connection to accept()
    // only once the client's first bytes are in -- the ClientHello, the PROXY header or the HTTP
    // request: every protocol served here is client-speaks-first. The first read then finds them,
    // so a connection starts without a readiness wait (an epoll_ctl re-arm and an epoll_wait wake-up
    // fewer per connection, issue 15). A client that connects and sends nothing is still accepted,
    // after about a second (when it acknowledges the retransmitted SYN-ACK), and then handled as
    // before: the handshake (or PROXY header) timeout runs from that accept and counts it; a TCP
    // health check's FIN is accepted at once. Meanwhile it holds no slot of max_connections.
    const int defer_seconds = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof defer_seconds) != 0) return fail(fd);
    if (::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0) return fail(fd);
    if (::listen(fd, SOMAXCONN) != 0) return fail(fd);
    ec = {};
    return fd;
}

net::awaitable<void> accept_loop(net::tcp_acceptor& acceptor, std::string listener_name,
                                 downstream::worker_context& worker, snapshot::cache& snapshots) {
    auto& st = worker.counters();
    downstream::connection_slots* slots = worker.slots();
    net::steady_timer pause(acceptor.get_executor());
    for (;;) {
        net::tcp::endpoint peer;  // filled by accept(): no getpeername() per connection
        auto [ec, socket] = co_await acceptor.async_accept(peer);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            // EMFILE / ENFILE / ENOBUFS: back off instead of spinning on the error.
            spdlog::warn("accept failed: {}; pausing 100 ms", ec.message());
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait();
            continue;
        }
        downstream::stats::inc(st.connections_accepted);
        // A slot (limits.max_connections, process-wide) before serving. At the limit: shed the
        // longest-idle connection (one per waiting client, connection_slots::make_room) and wait
        // until its slot comes back; with nothing idle anywhere,
        // wait until some connection ends. This loop accepts nothing meanwhile, so further clients
        // queue in the kernel backlog. Looked at every 10 ms: a freed slot may go to another loop.
        if (slots != nullptr && !slots->try_acquire(snapshots.get()->cfg.limits.max_connections)) {
            const downstream::connection_slots::waiter waiting(*slots);
            bool logged = false;
            while (!slots->try_acquire(snapshots.get()->cfg.limits.max_connections)) {
                if (!acceptor.is_open()) co_return;  // closed (drain, reload): the waiting client is dropped
                if (!slots->make_room(worker) && !logged) {
                    spdlog::debug("max_connections ({}) reached and no connection is idle: client {} waits",
                                  snapshots.get()->cfg.limits.max_connections, peer.address().to_string());
                    logged = true;
                }
                pause.expires_after(std::chrono::milliseconds(10));
                co_await pause.async_wait();
            }
        }
        const auto& snap = snapshots.get();
        const int li = snap->listener_index(listener_name);
        if (li < 0) {  // removed by a reload whose acceptor close is still on its way: drop it
            if (slots != nullptr) slots->release();
            continue;
        }
        asio::co_spawn(worker.io(), downstream::serve(std::move(socket), peer, snap, static_cast<std::size_t>(li), worker),
                       [](std::exception_ptr e) {
                           if (!e) return;
                           // serve() does not throw; reaching this is a bug (or bad_alloc). Log it loudly.
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                               spdlog::error("connection task failed: {}", ex.what());
                           } catch (...) {
                               spdlog::error("connection task failed with a non-standard exception");
                           }
                       });
    }
}

}  // namespace atsgate::listener
