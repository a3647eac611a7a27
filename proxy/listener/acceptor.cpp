#include "proxy/listener/acceptor.hpp"

#include "proxy/downstream/connection.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

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
    if (ep.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
    probe.bind(ep, ec);
    net::error_code ignore;
    probe.close(ignore);
    return ec;
}

net::error_code open_acceptor(net::tcp_acceptor& acceptor, const net::tcp::endpoint& ep) {
    net::error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (ec) return ec;
    acceptor.set_option(net::tcp::acceptor::reuse_address(true), ec);
    if (ec) return ec;
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        return net::error_code(errno, boost::system::system_category());
    if (ep.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    acceptor.bind(ep, ec);
    if (ec) return ec;
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    return ec;
}

net::awaitable<void> accept_loop(net::tcp_acceptor& acceptor, std::size_t listener_index,
                                 downstream::worker_context& worker, snapshot::cache& snapshots,
                                 std::uint32_t max_connections) {
    auto& st = worker.counters();
    net::steady_timer pause(acceptor.get_executor());
    for (;;) {
        // At the connection limit: stop accepting and look again shortly (the backlog queues clients).
        while (downstream::stats::get(st.connections_active) >= max_connections && acceptor.is_open()) {
            pause.expires_after(std::chrono::milliseconds(10));
            co_await pause.async_wait();
        }
        auto [ec, socket] = co_await acceptor.async_accept();
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            // EMFILE / ENFILE / ENOBUFS: back off instead of spinning on the error.
            spdlog::warn("accept failed: {}; pausing 100 ms", ec.message());
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait();
            continue;
        }
        downstream::stats::inc(st.connections_accepted);
        net::error_code oec;
        socket.set_option(net::tcp::no_delay(true), oec);
        asio::co_spawn(worker.io(), downstream::serve(std::move(socket), snapshots.get(), listener_index, worker),
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
