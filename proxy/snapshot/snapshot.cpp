#include "proxy/snapshot/snapshot.hpp"

#include <boost/asio/ip/tcp.hpp>

namespace atsgate::snapshot {

namespace {
std::string authority(const config::upstream& u) {
    std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    return host + ":" + std::to_string(u.port);
}
}  // namespace

build_result build(config::config cfg, std::int64_t now, std::uint64_t generation) {
    build_result out;
    auto snap = std::make_shared<snapshot>();
    snap->generation = generation;
    std::vector<tls::endpoint_facts> facts;
    bool complete = true;

    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
        const auto& l = cfg.listeners[i];
        tls::listener_tls built = tls::build_listener_tls(l, i, out.diags);
        facts.push_back(std::move(built.facts));
        if (!built.context) {
            complete = false;
            continue;
        }
        listener_runtime rt;
        rt.tls = std::move(*built.context);
        if (!l.server_name.empty()) rt.own_host_storage.push_back(l.server_name);
        const auto& u = cfg.upstreams[l.upstream_index];
        rt.own_host_storage.push_back(authority(u));
        if (u.port == 80) rt.own_host_storage.push_back(u.host);
        for (const auto& h : rt.own_host_storage) rt.own_hosts.emplace_back(h);
        snap->listeners.push_back(std::move(rt));
    }

    boost::asio::io_context io;
    net::tcp::resolver resolver(io);
    for (std::size_t i = 0; i < cfg.upstreams.size(); ++i) {
        const auto& u = cfg.upstreams[i];
        upstream_runtime rt;
        net::error_code ec;
        auto results = resolver.resolve(u.host, std::to_string(u.port), net::tcp::resolver::numeric_service, ec);
        if (!ec) {
            for (const auto& r : results) rt.endpoints.push_back(r.endpoint());
        }
        if (ec || rt.endpoints.empty()) {
            auto it = u.key_pos.find("url");
            const std::string kp = "upstream[" + std::to_string(i) + "].url";
            out.diags.push_back(config::diagnostic{config::severity::error, it != u.key_pos.end() ? it->second : u.where, kp,
                                                   kp + ": host \"" + u.host + "\" does not resolve: " +
                                                       (ec ? ec.message() : std::string("no addresses")),
                                                   ""});
            complete = false;
        }
        snap->upstreams.push_back(std::move(rt));
    }

    out.audit = tls::audit(facts, now);
    if (complete && !config::has_errors(out.diags)) {
        snap->routes = router::route_table(cfg);
        snap->audit = out.audit;
        snap->cfg = std::move(cfg);
        out.value = std::move(snap);
    }
    return out;
}

}  // namespace atsgate::snapshot
