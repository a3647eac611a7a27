#pragma once
// Asio vocabulary shared by the data plane. Data-plane executors use the as_tuple(use_awaitable)
// default token, so every co_await yields (error_code, ...) and nothing throws (STYLE.md §3;
// Boost.Beast's advanced_server_flex_awaitable does the same).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace atsgate::net {

namespace asio = boost::asio;
using boost::system::error_code;

using token_t = asio::as_tuple_t<asio::use_awaitable_t<>>;
inline constexpr token_t token{};

using tcp = asio::ip::tcp;
using tcp_socket = token_t::as_default_on_t<tcp::socket>;
using tcp_acceptor = token_t::as_default_on_t<tcp::acceptor>;
using steady_timer = token_t::as_default_on_t<asio::steady_timer>;

template <typename T = void>
using awaitable = asio::awaitable<T>;

}  // namespace atsgate::net
