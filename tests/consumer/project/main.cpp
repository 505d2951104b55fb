// Uses the public API only, as a downstream project would. Besides a value round trip, it
// calls every free function the public headers declare at namespace scope (builders, catalog,
// schemes, protocol and task names, dtypes, shared memory, syntaxes, version): a declaration
// the installed library does not define fails this program's link, in each of the three ways
// a user consumes appose. Prints "consumer ok" only when every check holds. Given the path of
// examples/worker_ops (the Windows consumer test passes it), it also runs a task on that worker.
// Builds on Linux and, cross-compiled, on Windows.

#ifdef _WIN32
#include <process.h>
#include <winsock2.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif
#include <appose/appose.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

#ifdef _WIN32
using Socket = SOCKET;
using SockLen = int;
constexpr Socket kNoSocket = INVALID_SOCKET;
void close_socket(Socket s) {
  ::closesocket(s);
}
int process_id() {
  return ::_getpid();
}
void set_env(const char* name, const std::string& value) {
  ::_putenv_s(name, value.c_str());
}
/// Winsock wants starting before the first socket.
struct Winsock {
  Winsock() {
    WSADATA data;
    ::WSAStartup(MAKEWORD(2, 2), &data);
  }
  ~Winsock() { ::WSACleanup(); }
};
#else
using Socket = int;
using SockLen = socklen_t;
constexpr Socket kNoSocket = -1;
void close_socket(Socket s) {
  ::close(s);
}
int process_id() {
  return static_cast<int>(::getpid());
}
void set_env(const char* name, const std::string& value) {
  ::setenv(name, value.c_str(), 1);
}
struct Winsock {};
#endif

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// An address on loopback that refuses connections for as long as the socket is open: bound,
// never listening. url() must fail there quickly, without any network.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SockLen len = sizeof(addr);
    check(fd_ != kNoSocket && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
              ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0,
          "cannot bind a loopback socket");
    port_ = ntohs(addr.sin_port);
  }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  ~RefusingPort() { close_socket(fd_); }
  [[nodiscard]] int port() const { return port_; }

 private:
  Socket fd_;
  int port_ = 0;
};

void values() {
  appose::NDArray a(appose::DType::float32, appose::Shape{2, 3});
  for (float& x : a.span<float>())
    x = 1.5F;
  appose::Args inputs{{"data", a}, {"gamma", 2.2}};
  auto back = inputs.at("data").get<appose::NDArray>();
  float sum = 0;
  for (float x : back.span<float>())
    sum += x;
  check(sum == 9.0F, "NDArray round trip through Args");
  check(back == a && inputs == appose::Args(inputs) && inputs.at("gamma") == appose::Value(2.2),
        "operator== of NDArray, Args, Value");
  std::printf("values: %s\n", inputs.to_json().dump().c_str());
}

void builders(const fs::path& tmp) {
  const fs::path envs = tmp / "envs";
  fs::create_directories(envs / "plain");
  set_env("APPOSE_ENVS_DIR", envs.string());
  check(appose::envs_dir() == envs, "envs_dir() follows $APPOSE_ENVS_DIR");

  write_file(tmp / "pixi.toml",
             "[workspace]\nname = \"consumer-pixi\"\nchannels = []\n"
             "platforms = []\n[dependencies]\npython = \"*\"\n");
  write_file(tmp / "environment.yml", "name: consumer-mamba\ndependencies:\n  - python\n");
  write_file(tmp / "requirements.txt", "appose==0.12.0\n");
  check(appose::pixi().env_type() == "pixi", "pixi()");
  check(appose::pixi(tmp / "pixi.toml").env_dir() == envs / "consumer-pixi", "pixi(file)");
  check(appose::mamba().env_type() == "mamba", "mamba()");
  check(appose::mamba(tmp / "environment.yml").env_dir() == envs / "consumer-mamba", "mamba(file)");
  check(appose::uv().env_type() == "uv", "uv()");
  check(appose::uv(tmp / "requirements.txt").name("consumer-uv").env_dir() == envs / "consumer-uv",
        "uv(file)");
  check(appose::file(tmp / "requirements.txt").env_type() == "uv", "file() routes by scheme");
  check(appose::content("name: from-content\ndependencies:\n  - python\n").env_type() == "pixi",
        "content() routes by scheme");

  RefusingPort refusing;
  const std::string address = "http://127.0.0.1:" + std::to_string(refusing.port()) + "/pixi.toml";
  try {
    (void)appose::url(address);
    throw std::runtime_error("url() of a refusing address did not throw");
  } catch (const appose::BuildException& e) {
    std::printf("url: %s\n", e.what());
  }

  appose::Environment plain = appose::wrap(envs / "plain");
  check(plain.type() == "custom" && fs::path(plain.base()) == envs / "plain", "wrap()");
  check(appose::system().type() == "system", "system()");

  // The catalog: default root is envs_dir(), holding just "plain" (nothing was built).
  std::vector<appose::EnvironmentInfo> listed = appose::list_environments();
  check(listed.size() == 1 && listed[0].name == "plain" &&
            listed[0].state == appose::EnvironmentState::no_fingerprint,
        "list_environments()");
  check(std::string(appose::to_string(listed[0].state)) == "no fingerprint",
        "to_string(EnvironmentState)");
}

void schemes() {
  using appose::Scheme;
  const std::string pixi =
      "[workspace]\nname = \"x\"\nchannels = []\nplatforms = []\n[dependencies]\npython = \"*\"\n";
  check(Scheme::all().size() == 4 && Scheme::all()[0] == Scheme::pyproject_toml(), "Scheme::all()");
  check(Scheme::from_name("pixi.toml") == Scheme::pixi_toml(), "Scheme::from_name()");
  check(Scheme::from_content(pixi) == Scheme::pixi_toml(), "Scheme::from_content()");
  check(Scheme::environment_yml().name() == "environment.yml" &&
            Scheme::pixi_toml().priority() == 50 &&
            Scheme::requirements_txt().supports_content("numpy\n") &&
            Scheme::pixi_toml().env_name(pixi) == std::optional<std::string>("x"),
        "Scheme members");
  Scheme::pixi_toml().validate(pixi);
  try {
    Scheme::pixi_toml().validate("[workspace\n");
    throw std::runtime_error("validate() accepted broken TOML");
  } catch (const appose::BuildException&) {
  }
}

void names() {
  check(appose::to_string(appose::RequestType::EXECUTE) == "EXECUTE" &&
            appose::parse_request_type("CANCEL") == appose::RequestType::CANCEL,
        "request type names");
  check(appose::to_string(appose::ResponseType::COMPLETION) == "COMPLETION" &&
            appose::parse_response_type("LAUNCH") == appose::ResponseType::LAUNCH &&
            !appose::parse_response_type("BOGUS") &&
            appose::is_terminal(appose::ResponseType::FAILURE),
        "response type names");
  check(appose::to_string(appose::TaskStatus::COMPLETE) == "COMPLETE" &&
            appose::is_finished(appose::TaskStatus::COMPLETE) &&
            !appose::is_error(appose::TaskStatus::COMPLETE),
        "task status names");
  check(appose::dtype_size(appose::DType::float64) == 8 &&
            appose::dtype_name(appose::DType::float32) == "float32" &&
            appose::parse_dtype("uint16") == appose::DType::uint16 &&
            appose::parse_dtype("float16") == appose::DType::float16 &&
            !appose::parse_dtype("float8") && appose::dtype_of<float>() == appose::DType::float32 &&
            appose::to_float(appose::Float16Bits{0x3C00}) == 1.0F,
        "dtypes");
  check(appose::syntax_for("python")->name() == "python", "syntax_for()");
  check(std::string(appose::version()) == APPOSE_VERSION_STRING &&
            std::string(appose::protocol_generation()) == "0.12" &&
            appose::same_protocol("0.12.0", "0.12.3") && !appose::same_protocol("0.12.0", "0.13.0"),
        "version()");
}

void shared_memory() {
  appose::SharedMemory block = appose::SharedMemory::create(64);
  std::vector<appose::OwnedBlock> owned = appose::owned_blocks();
#ifdef _WIN32
  // No registry on Windows: a mapping dies with its last handle, so nothing is ever orphaned.
  check(owned.empty(), "owned_blocks() is empty on Windows");
#else
  check(std::any_of(owned.begin(), owned.end(),
                    [&](const appose::OwnedBlock& b) {
                      return b.name == block.name() && b.pid == process_id() && b.owner_alive;
                    }),
        "owned_blocks() lists a block this process created");
#endif
  std::vector<std::string> reclaimed = appose::reclaim_orphaned_blocks();
  check(std::find(reclaimed.begin(), reclaimed.end(), block.name()) == reclaimed.end(),
        "reclaim_orphaned_blocks() left a live owner's block alone");
}

/// A task on the C++ worker at `worker_ops`: an array through shared memory, an output back.
void worker(const std::string& worker_ops) {
  appose::ServiceConfig config;
  config.command = {worker_ops};
  appose::Service service(std::move(config));
  appose::NDArray data(appose::DType::float32, appose::Shape{3});
  auto span = data.span<float>();
  span[0] = 1;
  span[1] = 2;
  span[2] = 3;
  appose::Task task = service.task("sum", {{"data", data}});
  task.wait_for();
  const double total = task.outputs().at("total").get<double>();
  check(total == 6.0, "worker_ops summed the array");
  std::printf("worker_ops: total %g\n", total);
  service.close();
  check(service.wait_for() == 0, "worker_ops exited with 0");
}

}  // namespace

int main(int argc, char** argv) {
  [[maybe_unused]] Winsock winsock;
  const fs::path tmp =
      fs::temp_directory_path() / ("appose-consumer-" + std::to_string(process_id()));
  int status = 0;
  try {
    fs::create_directories(tmp);
    values();
    builders(tmp);
    schemes();
    names();
    shared_memory();
    // absolute(): a path without a drive ("/work/...", as the Windows test passes it) gets one.
    if (argc > 1) worker(fs::absolute(argv[1]).string());
  } catch (const std::exception& e) {
    std::printf("consumer FAILED: %s\n", e.what());
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (status == 0) std::printf("consumer ok\n");
  return status;
}
