#pragma once
// Realistic Apple MDM traffic for the codec tests and the benchmark: a check-in (TokenUpdate)
// and a command poll as an iOS device sends them, and a server command response.

#include <string>
#include <string_view>

namespace atsgate::http::test {

// ~1 KiB TokenUpdate check-in plist (values are made up but have the real shapes and sizes).
inline const std::string checkin_plist =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n"
    "<dict>\n"
    "\t<key>AwaitingConfiguration</key>\n"
    "\t<false/>\n"
    "\t<key>MessageType</key>\n"
    "\t<string>TokenUpdate</string>\n"
    "\t<key>PushMagic</key>\n"
    "\t<string>5A4F3D2E-8C1B-4E7A-9D6F-1B2C3D4E5F60</string>\n"
    "\t<key>Token</key>\n"
    "\t<data>\n"
    "\tq1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c=\n"
    "\t</data>\n"
    "\t<key>Topic</key>\n"
    "\t<string>com.apple.mgmt.External.0c2f6a4e-1d3b-4c5a-9e8f-7a6b5c4d3e2f</string>\n"
    "\t<key>UDID</key>\n"
    "\t<string>00008030-001A2B3C4D5E6F70</string>\n"
    "\t<key>UnlockToken</key>\n"
    "\t<data>\n"
    "\tRElTQ0xBSU1FUi4gVGhpcyBpcyBub3QgYSByZWFsIHVubG9jayB0b2tlbjsgaXQg\n"
    "\taGFzIHRoZSBsZW5ndGggYW5kIGFscGhhYmV0IG9mIG9uZSBzbyB0aGF0IHRoZSBw\n"
    "\tYXJzZXIgc2VlcyByZWFsaXN0aWMgYnl0ZXMgaW4gdGhlIGJvZHkuIEFBQUFBQUFB\n"
    "\tQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
    "\tQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
    "\t</data>\n"
    "</dict>\n"
    "</plist>\n";

inline const std::string command_poll_plist =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n"
    "<dict>\n"
    "\t<key>Status</key>\n"
    "\t<string>Idle</string>\n"
    "\t<key>UDID</key>\n"
    "\t<string>00008030-001A2B3C4D5E6F70</string>\n"
    "</dict>\n"
    "</plist>\n";

// A CMS signature of the body as the device sends it (base64, one line, ~1.3 KiB in reality;
// shortened but of the same alphabet).
inline const std::string mdm_signature =
    "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIEKDCCAxCgAwIBAgIQ"
    "Fz3mC6Jr0bRQ2pV8yW4tKjANBgkqhkiG9w0BAQsFADBdMQswCQYDVQQGEwJVUzETMBEGA1UECgwKQXBwbGUgSW5jLjEm"
    "MCQGA1UECwwdQXBwbGUgQ2VydGlmaWNhdGlvbiBBdXRob3JpdHkxETAPBgNVBAMMCEFwcGxlIENBMB4XDTI0MDEwMTAw";

inline std::string with_length(std::string head, std::string_view body) {
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    head += body;
    return head;
}

inline std::string checkin_request() {
    return with_length(
        "PUT /mdm/checkin HTTP/1.1\r\n"
        "Host: mdm.example.com\r\n"
        "Content-Type: application/x-apple-aspen-mdm-checkin\r\n"
        "Mdm-Signature: " + mdm_signature + "\r\n"
        "Accept: */*\r\n"
        "Accept-Language: en-GB,en;q=0.9\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "User-Agent: MDM/1.0\r\n"
        "Connection: keep-alive\r\n",
        checkin_plist);
}

inline std::string command_poll_request() {
    return with_length(
        "PUT /mdm/server HTTP/1.1\r\n"
        "Host: mdm.example.com\r\n"
        "Content-Type: application/x-apple-aspen-mdm\r\n"
        "Mdm-Signature: " + mdm_signature + "\r\n"
        "Accept: */*\r\n"
        "Accept-Language: en-GB,en;q=0.9\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "User-Agent: MDM/1.0\r\n"
        "Connection: keep-alive\r\n",
        command_poll_plist);
}

}  // namespace atsgate::http::test
