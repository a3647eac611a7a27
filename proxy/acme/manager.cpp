#include "proxy/acme/manager.hpp"

#include "proxy/acme/certificate_request.hpp"
#include "util/hex.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

namespace atsgate::acme {
namespace fs = std::filesystem;

namespace {

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

key_type type_of(config::acme_key_type t) {
    return t == config::acme_key_type::rsa_2048 ? key_type::rsa_2048 : key_type::ecdsa_p256;
}

std::vector<std::string> names_of(const config::certificate& c) {
    std::vector<std::string> out;
    for (const auto& n : c.names) out.push_back(n.value);
    return out;
}

std::string date_of(std::int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

std::string_view state_of(const managed_certificate& m) noexcept {
    if (m.file.empty()) return "pending";
    return m.failures > 0 ? "failing" : "valid";
}

manager::manager(net::asio::any_io_executor ex, hooks h, std::shared_ptr<challenge_board> board)
    : ex_(std::move(ex)), hooks_(std::move(h)), board_(board ? std::move(board) : std::make_shared<challenge_board>()) {}

manager::~manager() { *alive_ = false; }

std::string manager::id_of(const config::certificate& c) {
    auto names = names_of(c);
    const std::string first = names.empty() ? std::string("unnamed") : names.front();
    const key_type t = type_of(c.key_type);
    if (names.size() <= 1) return storage::certificate_id(first, t);
    std::sort(names.begin(), names.end());
    std::string joined;
    for (const auto& n : names) joined += n + "\n";
    std::string id = storage::certificate_id(first, t);
    // "<first name>.<8 hex of the name set>.<key type>": another name set never shares the file.
    const auto dot = id.rfind('.');
    return id.substr(0, dot) + "." + util::hex(sha256(joined).substr(0, 4)) + id.substr(dot);
}

void manager::say(int level, const std::string& line) const {
    if (hooks_.log) hooks_.log(level, line);
}

std::int64_t manager::now_s() const { return unix_ms() / 1000; }

bool manager::configure(const config::config& cfg, std::string& err) {
    if (!cfg.acme) {
        settings_.reset();
        certs_.clear();
        return true;
    }
    auto st = storage::open(cfg.acme->storage, err);
    if (!st) {
        err = "acme.storage: " + err;
        return false;
    }
    auto ctx = make_client_context(cfg.acme->ca, err);
    if (!ctx) {
        err = "acme.ca: " + err;
        return false;
    }
    if (!settings_ || settings_->directory != cfg.acme->directory) {
        renewal_info_.clear();
        directory_known_ = false;
    }
    settings_ = *cfg.acme;
    store_ = std::move(*st);
    client_ = std::make_unique<https_client>(ex_, std::move(ctx), "atsgate acme");

    std::vector<managed_certificate> next;
    for (const auto& l : cfg.listeners) {
        for (const auto& c : l.certificates) {
            if (!c.acme || c.names.empty()) continue;
            const std::string id = id_of(c);
            if (std::any_of(next.begin(), next.end(), [&](const managed_certificate& m) { return m.id == id; })) continue;
            auto old = std::find_if(certs_.begin(), certs_.end(), [&](const managed_certificate& m) { return m.id == id; });
            if (old != certs_.end()) {
                next.push_back(std::move(*old));
                continue;
            }
            managed_certificate m;
            m.id = id;
            m.names = names_of(c);
            m.type = type_of(c.key_type);
            adopt_stored(m, false);  // the start-up / reload audit judges it with the rest
            next.push_back(std::move(m));
        }
    }
    certs_ = std::move(next);
    return true;
}

void manager::substitute(config::config& cfg) const {
    for (auto& l : cfg.listeners) {
        for (auto& c : l.certificates) {
            if (!c.acme) continue;
            const std::string id = id_of(c);
            auto m = std::find_if(certs_.begin(), certs_.end(), [&](const managed_certificate& x) { return x.id == id; });
            if (m != certs_.end() && !m->file.empty()) {
                c.cert = m->file.string();
                c.key = m->file.string();
            } else {
                c.cert.clear();
                c.key.clear();
            }
        }
    }
}

bool manager::adopt_stored(managed_certificate& m, bool audit) {
    if (!store_) return false;
    std::string err;
    auto stored = store_->load_certificate(m.id, err);
    if (!stored) {
        if (!err.empty()) say(2, "acme: " + err);
        return false;
    }
    auto chain = parse_pem_chain(stored->chain_pem, err);
    if (chain.empty()) {
        say(2, "acme: " + stored->path.string() + ": " + err);
        return false;
    }
    X509& leaf = *chain.front();
    const auto validity = validity_of(leaf);
    const auto dns = dns_names_of(leaf);
    const bool names_ok = std::all_of(m.names.begin(), m.names.end(), [&](const std::string& n) {
        return std::find(dns.begin(), dns.end(), n) != dns.end();
    });
    if (!validity || !names_ok || now_s() > validity->second) return false;  // expired or for other names
    const ASN1_INTEGER* sn = X509_get0_serialNumber(&leaf);
    auto bn = ossl::own(ASN1_INTEGER_to_BN(sn, nullptr));
    ossl::string_ptr hex(bn ? BN_bn2hex(bn.get()) : nullptr);
    const std::string serial = hex ? hex.get() : "";
    if (!m.file.empty() && serial == m.serial) return false;  // already served
    if (audit && serial == m.rejected_serial) return false;  // judged before: still failing
    if (audit && hooks_.audit) {
        auto findings = hooks_.audit(m.id, stored->path);
        if (!findings.empty()) {
            if (m.rejected != findings) {
                std::string text;
                for (const auto& f : findings) text += "\n  " + f;
                say(3, "acme: the stored certificate for " + m.names.front() + " fails the audit and is not served:" + text);
            }
            m.rejected = std::move(findings);
            m.rejected_serial = serial;
            return false;
        }
    }
    m.file = stored->path;
    m.not_before = validity->first;
    m.not_after = validity->second;
    m.serial = serial;
    m.ari_id = ari_cert_id(leaf).value_or("");
    m.ari.reset();
    m.ari_next = 0;
    return true;
}

void manager::reject(const std::string& id, std::vector<std::string> findings) {
    auto m = std::find_if(certs_.begin(), certs_.end(), [&](const managed_certificate& x) { return x.id == id; });
    if (m == certs_.end()) return;
    if (!m->file.empty() && store_) {
        std::error_code ec;
        fs::rename(m->file, store_->dir() / "certificates" / (id + ".rejected.pem"), ec);
    }
    m->file.clear();
    m->not_before.reset();
    m->not_after.reset();
    m->serial.clear();
    m->rejected = std::move(findings);
    ++m->rejected_total;
}

void manager::plan_all(std::int64_t now) {
    for (auto& m : certs_) {
        renewal_inputs in;
        in.not_before = m.not_before;
        in.not_after = m.not_after;
        in.ari = m.ari;
        in.ari_draw = m.ari_draw;
        in.failures = m.failures;
        in.last_failure = m.last_failure;
        in.retry_after = m.retry_after;
        in.retry_base_ms = settings_->retry_min.count();
        in.retry_cap_ms = settings_->retry_max.count();
        m.plan = plan_renewal(in, now, m.backoff_draw);
    }
}

void manager::start() {
    if (running_ || !settings_) return;
    running_ = true;
    timer_ = std::make_unique<net::steady_timer>(ex_);
    auto alive = alive_;
    net::asio::co_spawn(ex_, loop(), [this, alive](std::exception_ptr e) {
        if (!*alive) return;
        running_ = false;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                say(3, std::string("acme: the certificate task stopped: ") + ex.what());
            } catch (...) {
                say(3, "acme: the certificate task stopped (unknown exception)");
            }
        }
    });
}

void manager::stop() {
    stopping_ = true;
    if (timer_) timer_->cancel();
}

void manager::kick() {
    if (timer_) timer_->cancel();
}

net::awaitable<void> manager::poll_ari(std::int64_t now) {
    const bool any_served = std::any_of(certs_.begin(), certs_.end(), [](const managed_certificate& m) {
        return !m.file.empty() && !m.ari_id.empty();
    });
    if (!any_served || !settings_) co_return;
    if (!directory_known_) {
        // Named, not a temporary inside the co_await: GCC 12 ran the destructor of such a temporary
        // http_request on a bitwise copy in the coroutine frame (free() of a pointer into the frame,
        // "free(): invalid pointer" on the first ARI poll after a restart with a stored certificate).
        const http_request req{http_request::verb::get, settings_->directory, {}, {}};
        auto fetched = co_await client_->fetch(req, std::chrono::milliseconds(settings_->request_timeout));
        const std::string& err = fetched.first;
        const http_response& resp = fetched.second;
        if (!err.empty() || resp.status != 200) co_return;  // the next order or loop tries again
        if (auto d = parse_directory(resp.body, settings_->directory)) {
            renewal_info_ = d->renewal_info;
            directory_known_ = true;
        }
    }
    if (renewal_info_.empty()) co_return;
    std::vector<std::pair<std::string, std::string>> due;  // id, ari id
    for (const auto& m : certs_)
        if (!m.file.empty() && !m.ari_id.empty() && now >= m.ari_next) due.emplace_back(m.id, m.ari_id);
    for (const auto& [id, ari_id] : due) {
        const std::string url = renewal_info_;
        auto answer = co_await fetch_renewal_info(*client_, url, ari_id,
                                                  std::chrono::milliseconds(settings_->request_timeout), now);
        auto m = std::find_if(certs_.begin(), certs_.end(), [&](const managed_certificate& x) { return x.id == id; });
        if (m == certs_.end() || m->ari_id != ari_id) continue;  // reconfigured or renewed meanwhile
        m->ari_next = now + answer.poll_after_s;
        if (!answer.error.empty()) say(0, "acme: renewalInfo for " + m->names.front() + ": " + answer.error);
        if (answer.window && (!m->ari || m->ari->start != answer.window->start || m->ari->end != answer.window->end)) {
            m->ari = answer.window;
            m->ari_draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
            say(1, "acme: " + m->names.front() + ": the CA suggests renewing between " + date_of(m->ari->start) +
                       " and " + date_of(m->ari->end));
        }
    }
}

net::awaitable<void> manager::order(managed_certificate& start_ref) {
    const std::string id = start_ref.id;
    const std::vector<std::string> names = start_ref.names;
    const key_type type = start_ref.type;
    const bool renewal = !start_ref.file.empty();
    const std::string replaces = renewal && !renewal_info_.empty() ? start_ref.ari_id : std::string{};
    auto find = [&]() -> managed_certificate* {
        auto m = std::find_if(certs_.begin(), certs_.end(), [&](const managed_certificate& x) { return x.id == id; });
        return m == certs_.end() ? nullptr : &*m;
    };
    auto failed = [&](std::string why, std::int64_t retry_after) {
        managed_certificate* m = find();
        if (m == nullptr) return;
        ++m->failures;
        ++(renewal ? m->renewals_failed : m->orders_failed);
        m->last_failure = now_s();
        m->retry_after = retry_after;
        m->backoff_draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        m->last_error = std::move(why);
        plan_all(now_s());
        std::string when = " next attempt " + date_of(m->plan.at);
        if (m->not_after) when += "; the served certificate expires " + date_of(*m->not_after);
        say(2, "acme: " + std::string(renewal ? "renewal" : "order") + " of " + names.front() + " (" +
                   std::string(to_string(type)) + ") failed (" + std::to_string(m->failures) + " in a row): " +
                   m->last_error + ";" + when);
    };

    std::string err;
    auto account = account_key::from_key(store_->account_key_for(settings_->directory, key_type::ecdsa_p256, err), err);
    if (!account) {
        failed("account key: " + err, -1);
        co_return;
    }
    auto key = generate_key(type, err);
    const std::string key_pem = key ? private_key_pem(*key, err) : std::string{};
    const std::string csr = key ? make_csr_der(*key, names, err) : std::string{};
    if (key_pem.empty() || csr.empty()) {
        failed("certificate key or CSR: " + err, -1);
        co_return;
    }
    order_params p;
    p.directory_url = settings_->directory;
    p.names = names;
    p.challenge = settings_->challenge == config::acme_challenge::http_01 ? challenge_kind::http_01
                                                                          : challenge_kind::tls_alpn_01;
    if (!settings_->email.empty()) p.contact = {"mailto:" + settings_->email};
    p.csr_der = csr;
    p.replaces = replaces;
    p.deadline_ms = unix_ms() + settings_->order_timeout.count();
    say(1, "acme: " + std::string(renewal ? "renewing " : "ordering ") + names.front() +
               (names.size() > 1 ? " (+" + std::to_string(names.size() - 1) + " names)" : "") + " (" +
               std::string(to_string(type)) + ") from " + settings_->directory + " by " +
               std::string(to_string(p.challenge)));
    order_flow flow(*account, p);
    auto board = board_;
    // The callbacks are named for the same GCC 12 reason as in poll_ari: no non-trivial temporaries
    // inside a co_await expression.
    std::function<std::int64_t()> clock = unix_ms;
    std::function<double()> draw = [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); };
    std::function<void(const std::string&)> progress = [this](const std::string& line) { say(1, "acme:   " + line); };
    auto outcome = co_await run_order(*client_, flow, *board, std::chrono::milliseconds(settings_->request_timeout),
                                      std::move(clock), std::move(draw), std::move(progress));
    if (!outcome.renewal_info_url.empty() || outcome.ok) {
        renewal_info_ = outcome.renewal_info_url;
        directory_known_ = true;
    }
    if (!outcome.ok) {
        failed(outcome.error, outcome.retry_after_s);
        co_return;
    }

    // The CA's answer is hostile until checked: a strict PEM chain whose leaf is for exactly our
    // names and our key, re-encoded, or nothing is stored (a CA returning another name set on a
    // renewal would otherwise replace the served certificate with one that cannot be served).
    const std::string chain = verify_issued_chain(outcome.certificate_pem, names, *key, err);
    if (chain.empty()) {
        failed("the CA returned an unusable certificate: " + err, -1);
        co_return;
    }

    // Audit before use: the candidate is judged exactly as it would be served.
    const fs::path dir = store_->dir() / "certificates";
    const fs::path candidate = dir / (id + ".candidate.pem");
    std::error_code ec;
    if (!store_->make_certificate_dir(err)) {
        failed("cannot store the certificate: " + err, -1);
        co_return;
    }
    std::string text = key_pem;
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += chain;
    if (!storage::write_atomic(candidate, text, err)) {
        failed("cannot store the certificate: " + err, -1);
        co_return;
    }
    auto findings = hooks_.audit ? hooks_.audit(id, candidate) : std::vector<std::string>{};
    if (!findings.empty()) {
        fs::rename(candidate, dir / (id + ".rejected.pem"), ec);
        std::string list;
        for (const auto& f : findings) list += "\n  " + f;
        say(3, "acme: the certificate issued for " + names.front() + " fails the ATS audit and is not served (kept as " +
                   (dir / (id + ".rejected.pem")).string() + "):" + list);
        if (managed_certificate* m = find()) {
            m->rejected = findings;
            ++m->rejected_total;
        }
        failed("the issued certificate fails the audit: " + findings.front(), -1);
        co_return;
    }
    if (std::rename(candidate.c_str(), (dir / (id + ".pem")).c_str()) != 0) {
        failed("cannot move the certificate into place: " + std::string(std::strerror(errno)), -1);
        co_return;
    }
    fs::remove(dir / (id + ".rejected.pem"), ec);  // an older refusal no longer applies
    managed_certificate* m = find();
    if (m == nullptr) co_return;
    m->file.clear();  // force adoption of the new file
    m->serial.clear();
    adopt_stored(*m, false);
    m->failures = 0;
    m->retry_after = -1;
    m->last_error.clear();
    m->rejected.clear();
    ++(renewal ? m->renewals_ok : m->orders_ok);
    say(1, "acme: certificate for " + names.front() + " (" + std::string(to_string(type)) + ") issued, audited and live: valid " +
               (m->not_before ? date_of(*m->not_before) : "?") + " to " + (m->not_after ? date_of(*m->not_after) : "?"));
    if (hooks_.changed) hooks_.changed();
}

net::awaitable<void> manager::loop() {
    auto alive = alive_;
    say(1, "acme: managing " + std::to_string(certs_.size()) + " certificate(s) from " + settings_->directory);
    while (!stopping_ && *alive) {
        if (!settings_ || !store_) co_return;
        std::int64_t now = now_s();
        // What another replica (the lock holder) stored meanwhile.
        bool changed = false;
        for (auto& m : certs_) changed = adopt_stored(m, true) || changed;
        if (changed && hooks_.changed) hooks_.changed();

        co_await poll_ari(now);
        if (stopping_ || !*alive) co_return;
        now = now_s();
        plan_all(now);
        std::vector<std::string> due;
        for (const auto& m : certs_)
            if (m.plan.at <= now) due.push_back(m.id);
        for (const auto& id : due) {
            auto m = std::find_if(certs_.begin(), certs_.end(), [&](const managed_certificate& x) { return x.id == id; });
            if (m == certs_.end()) continue;
            std::string err;
            storage_lock lock = store_->try_lock(err);
            if (!lock.held()) {
                m->waiting_for = err.empty() ? "another replica holds the storage lock" : err;
                continue;
            }
            m->waiting_for.clear();
            // The lock holder may just have stored a fresh certificate: adopt instead of ordering.
            if (adopt_stored(*m, true)) {
                if (hooks_.changed) hooks_.changed();
                continue;
            }
            co_await order(*m);
            if (stopping_ || !*alive) co_return;
        }

        now = now_s();
        plan_all(now);
        std::int64_t next = now + 60;  // look at the storage again at least every minute
        for (const auto& m : certs_) next = std::min(next, std::max(m.plan.at, now + 1));
        timer_->expires_after(std::chrono::seconds(std::clamp<std::int64_t>(next - now, 1, 3600)));
        co_await timer_->async_wait();
    }
}

}  // namespace atsgate::acme
