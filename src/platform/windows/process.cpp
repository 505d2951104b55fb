// Windows process layer: CreateProcessW with only the three pipe ends inherited, the child
// started suspended and put in a job object of its own before it runs (so that everything it
// starts is in the job too), the command line quoted for the C runtime's parser.

#include "platform/process.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cwchar>
#include <filesystem>
#include <utility>

#include "appose/error.hpp"
#include "platform/windows/process_native.hpp"
#include "util/random.hpp"

namespace appose::detail::platform {

namespace {

using win32::UniqueHandle;

/// The exit code a killed child reports: what Python's Popen.kill()/terminate() and Java's
/// Process.destroy() pass to TerminateProcess, so that all three report the same.
constexpr UINT kKilledExitCode = 1;
/// Windows' limit on a command line, in UTF-16 units, terminator included.
constexpr std::size_t kMaxCommandLine = 32767;
/// What a pipe holds before the writer blocks: the size POSIX pipes have on Linux.
constexpr DWORD kPipeBuffer = DWORD{64} << 10;

/// Whether `a` and `b` are the same name to Windows (variable names, file extensions):
/// ordinal, case-insensitive, independent of the locale.
bool same_name(std::wstring_view a, std::wstring_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return ::CompareStringOrdinal(a.data(), static_cast<int>(a.size()), b.data(),
                                static_cast<int>(b.size()), TRUE) == CSTR_EQUAL;
}

/// This process's variable `name`, read through the W function (the C runtime's narrow
/// environment is in the ANSI code page); nullopt when unset.
std::optional<std::wstring> own_variable(const wchar_t* name) {
  std::wstring value(256, L'\0');
  while (true) {
    ::SetLastError(ERROR_SUCCESS);
    const DWORD n = ::GetEnvironmentVariableW(name, value.data(), static_cast<DWORD>(value.size()));
    if (n == 0) {
      if (::GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
      return std::wstring();
    }
    if (n < value.size()) {
      value.resize(n);
      return value;
    }
    value.resize(n);  // n is the size needed, terminator included
  }
}

/// The extensions Windows runs as programs (PATHEXT), lower or upper case as set.
std::vector<std::wstring> program_extensions() {
  std::wstring list = own_variable(L"PATHEXT").value_or(L"");
  if (list.empty()) list = L".COM;.EXE;.BAT;.CMD";
  std::vector<std::wstring> exts;
  for (const auto& ext : split_path(win32::to_utf8(list))) {
    if (!ext.empty()) exts.push_back(win32::to_wide(ext));
  }
  return exts;
}

/// The extension of the last component of `path` ("" when there is none).
std::wstring_view extension_of(std::wstring_view path) noexcept {
  const std::size_t slash = path.find_last_of(L"\\/:");
  const std::size_t dot = path.rfind(L'.');
  if (dot == std::wstring_view::npos || (slash != std::wstring_view::npos && dot < slash)) {
    return {};
  }
  return path.substr(dot);
}

bool has_extension(std::wstring_view path, std::wstring_view ext) noexcept {
  return same_name(extension_of(path), ext);
}

/// Whether `path` is not a program CreateProcessW starts itself (an .exe or .com) but a script
/// cmd.exe runs (.bat, .cmd, or another PATHEXT type, through its file association).
bool needs_cmd(std::wstring_view path) noexcept {
  return !has_extension(path, L".exe") && !has_extension(path, L".com");
}

bool is_regular_file(const std::wstring& path) noexcept {
  const DWORD attrs = ::GetFileAttributesW(path.c_str());
  return attrs != INVALID_FILE_ATTRIBUTES &&
         (attrs & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE)) == 0;
}

/// `path` itself if it names a program, else the first `path` + extension (PATHEXT order)
/// that does: as cmd.exe looks a command up in one directory.
std::optional<std::wstring> program_at(const std::wstring& path,
                                       const std::vector<std::wstring>& exts) {
  const std::wstring_view ext = extension_of(path);
  if (!ext.empty() && std::any_of(exts.begin(), exts.end(),
                                  [&](const std::wstring& e) { return same_name(ext, e); })) {
    if (is_regular_file(path)) return path;
  }
  for (const auto& e : exts) {
    std::wstring candidate = path + e;
    if (is_regular_file(candidate)) return candidate;
  }
  return std::nullopt;
}

bool is_absolute(std::wstring_view path) {
  return std::filesystem::path(path).is_absolute();
}

/// `name` under `dir`, with `dir`'s own separator style kept and `name`'s made Windows'.
std::wstring join(std::wstring_view dir, std::wstring_view name) {
  std::wstring out(dir);
  if (!out.empty() && out.back() != L'\\' && out.back() != L'/') out += L'\\';
  for (wchar_t c : name)
    out += c == L'/' ? L'\\' : c;
  return out;
}

/// `arg` as one argument of a command line, for the C runtime's parser (CommandLineToArgvW
/// and the MSVCRT/UCRT startup code): quoted when it is empty or holds white space or a
/// quote; inside quotes, a quote is escaped with a backslash, and the backslashes right before
/// a quote (or the closing quote) are doubled. Other backslashes are literal. `also_quote`
/// lists more characters that make quoting necessary (cmd.exe's metacharacters).
void append_argument(std::wstring& line, std::wstring_view arg, std::wstring_view also_quote = {}) {
  if (!line.empty()) line += L' ';
  const bool quote = arg.empty() || arg.find_first_of(L" \t\n\v\"") != std::wstring_view::npos ||
                     (!also_quote.empty() && arg.find_first_of(also_quote) != std::wstring::npos);
  if (!quote) {
    line += arg;
    return;
  }
  line += L'"';
  std::size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') {
      line.append(2 * backslashes + 1, L'\\');
    } else {
      line.append(backslashes, L'\\');
    }
    backslashes = 0;
    line += c;
  }
  line.append(2 * backslashes, L'\\');
  line += L'"';
}

/// argv[0] as the C runtime reads it: up to the first white space, or between quotes (no
/// escapes at all). A path cannot hold a quote, so quoting it whole is always right.
void append_program(std::wstring& line, std::wstring_view program) {
  if (!program.empty() && program.find_first_of(L" \t") == std::wstring_view::npos) {
    line += program;
  } else {
    line += L'"';
    line += program;
    line += L'"';
  }
}

/// What CreateProcessW is given.
struct Launch {
  std::wstring application;
  std::wstring command_line;
};

std::wstring system_cmd() {
  std::wstring dir(MAX_PATH, L'\0');
  const UINT n = ::GetSystemDirectoryW(dir.data(), static_cast<UINT>(dir.size()));
  if (n == 0 || n >= dir.size()) return L"C:\\Windows\\System32\\cmd.exe";
  dir.resize(n);
  return join(dir, L"cmd.exe");
}

/// A script's launch: `cmd.exe /d /v:off /s /c ""<script>" <args>"`. /s takes everything
/// between the first and the last quote literally as the command; inside it, the script's path
/// is always quoted (unquoted, cmd reads a '&', '(' or '^' in a folder's name as its own syntax:
/// "C:\a&b\run.bat" would run "C:\a" and then "b\run.bat"), and arguments with cmd's
/// metacharacters are quoted, where cmd reads them literally. What cmd would still expand inside
/// quotes (%VAR%) or cannot pass at all (a quote, a line break) is refused, as
/// no quoting makes it arrive unchanged.
Launch script_launch(const std::wstring& script, const SpawnOptions& options) {
  // A path cannot hold a quote: quoting it whole is always right.
  std::wstring inner = L"\"" + script + L"\"";
  for (std::size_t i = 1; i < options.argv.size(); ++i) {
    const std::wstring arg = win32::to_wide(options.argv[i]);
    if (arg.find_first_of(L"\"%\r\n") != std::wstring::npos) {
      throw Error(fmt::format(
          "cannot start '{}': it is a script (not an .exe), run by cmd.exe, which cannot pass "
          "argument {} ('{}') unchanged (it holds a quote, a percent sign or a line break); "
          "give the path of a program (.exe) instead",
          options.argv[0], i, options.argv[i]));
    }
    append_argument(inner, arg, L"&|<>^(),;=!");
  }
  Launch launch;
  launch.application = system_cmd();
  append_program(launch.command_line, launch.application);
  launch.command_line += L" /d /v:off /s /c \"";
  launch.command_line += inner;
  launch.command_line += L'"';
  return launch;
}

/// A case-insensitive lookup in the changes (Windows' variable names ignore case).
const std::optional<std::string>* find_change(const SpawnOptions& options, std::wstring_view name) {
  const std::optional<std::string>* found = nullptr;
  // The last match wins, as environment_block() applies the changes in order.
  for (const auto& [key, value] : options.env) {
    if (same_name(win32::to_wide(key), name)) found = &value;
  }
  return found;
}

/// The program to start and its command line. A path (absolute, or relative to the child's
/// working directory) is taken as is, a bare name looked up in the child's PATH; either may
/// leave out a PATHEXT extension. Programs start directly; scripts through cmd.exe (see
/// script_launch). A name not found is an error here, as on POSIX: cmd.exe would start and
/// only print that it knows no such command.
Launch resolve_launch(const SpawnOptions& options) {
  const std::string& program = options.argv[0];
  std::string found;
  if (program.find_first_of("\\/:") != std::string::npos) {
    std::string path = program;
    if (!is_absolute(win32::to_wide(path))) {
      const std::string base = options.cwd.empty()
                                   ? win32::to_utf8(std::filesystem::current_path().wstring())
                                   : options.cwd;
      path = win32::to_utf8(join(win32::to_wide(base), win32::to_wide(path)));
    }
    found = find_executable(path, {});
    if (found.empty()) {
      const std::string why = executable_problem(path);
      throw Error(fmt::format("cannot start worker '{}': {} {}", program, path,
                              why.empty() ? "is not a program" : why),
                  std::make_error_code(std::errc::no_such_file_or_directory));
    }
  } else {
    std::vector<std::string> dirs;
    if (const auto* path = find_change(options, L"PATH")) {
      if (*path) dirs = split_path(**path);
    } else {
      dirs = path_dirs();
    }
    found = find_executable(program, dirs);
    if (found.empty()) {
      throw Error(fmt::format("cannot start worker '{}': no such program on PATH", program),
                  std::make_error_code(std::errc::no_such_file_or_directory));
    }
  }
  const std::wstring wide = win32::to_wide(found);
  if (needs_cmd(wide)) return script_launch(wide, options);

  Launch launch;
  launch.application = wide;
  append_program(launch.command_line, win32::to_wide(program));
  for (std::size_t i = 1; i < options.argv.size(); ++i)
    append_argument(launch.command_line, win32::to_wide(options.argv[i]));
  return launch;
}

/// The name of an environment entry: up to the first '=' after its first character (the
/// hidden per-drive directories are named "=C:").
std::wstring_view entry_name(std::wstring_view entry) noexcept {
  return entry.substr(0, entry.find(L'=', 1));
}

/// This process's environment with `changes` applied (case-insensitively: setting `Path`
/// replaces `PATH`), as the sorted, double-NUL-terminated block CreateProcessW takes.
std::wstring environment_block(const std::map<std::string, std::optional<std::string>>& changes) {
  std::vector<std::wstring> entries;
  if (wchar_t* own = ::GetEnvironmentStringsW()) {
    for (const wchar_t* e = own; *e != L'\0'; e += std::wcslen(e) + 1)
      entries.emplace_back(e);
    ::FreeEnvironmentStringsW(own);
  }
  for (const auto& [key, value] : changes) {
    if (key.empty() || key.find('=', 1) != std::string::npos ||
        key.find('\0') != std::string::npos || (value && value->find('\0') != std::string::npos)) {
      throw Error(fmt::format(
          "cannot start the worker: the environment variable name '{}' or its value is not "
          "valid on Windows (an empty name, '=' in the name, or a NUL character)",
          key));
    }
    const std::wstring name = win32::to_wide(key);
    std::erase_if(entries, [&](const std::wstring& e) { return same_name(entry_name(e), name); });
    if (value) entries.push_back(name + L"=" + win32::to_wide(*value));
  }
  // Windows documents the block as sorted by name, case-insensitively and without locale.
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto na = entry_name(a), nb = entry_name(b);
    return ::CompareStringOrdinal(na.data(), static_cast<int>(na.size()), nb.data(),
                                  static_cast<int>(nb.size()), TRUE) == CSTR_LESS_THAN;
  });
  std::wstring block;
  for (const auto& e : entries) {
    block += e;
    block += L'\0';
  }
  block += L'\0';
  if (entries.empty()) block += L'\0';
  return block;
}

[[noreturn]] void pipe_failed(std::error_code ec) {
  throw Error("cannot create a pipe for the worker", ec);
}

/// The child's stdin: a plain pipe; the child's end alone inheritable.
void make_stdin_pipe(UniqueHandle& ours, UniqueHandle& child) {
  HANDLE read = nullptr, write = nullptr;
  if (!::CreatePipe(&read, &write, nullptr, kPipeBuffer)) pipe_failed(win32::last_error());
  child.reset(read);
  ours.reset(write);
  if (!::SetHandleInformation(child.get(), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)) {
    pipe_failed(win32::last_error());
  }
}

/// One of the child's output pipes: a named pipe whose reading end (ours) is overlapped, so
/// that the output pump can wait on reads and cancel them (an anonymous pipe cannot be read
/// overlapped). The name is random; the pipe takes one client, and only a local one.
void make_output_pipe(UniqueHandle& ours, UniqueHandle& child) {
  const std::wstring name = win32::to_wide(
      fmt::format("\\\\.\\pipe\\appose-{}-{}", ::GetCurrentProcessId(), random_hex(16)));
  ours.reset(::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 0,
      kPipeBuffer, 0, nullptr));
  if (!ours.valid()) pipe_failed(win32::last_error());
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  child.reset(::CreateFileW(name.c_str(), GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, &inherit,
                            OPEN_EXISTING, 0, nullptr));
  if (!child.valid()) pipe_failed(win32::last_error());
}

/// The attribute list that restricts inheritance to `handles`.
class HandleList {
 public:
  explicit HandleList(std::vector<HANDLE> handles) : handles_(std::move(handles)) {
    SIZE_T size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
    storage_.resize(size);
    list_ = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage_.data());
    if (!::InitializeProcThreadAttributeList(list_, 1, 0, &size)) {
      list_ = nullptr;
      throw Error("cannot start the worker: no process attribute list", win32::last_error());
    }
    if (!::UpdateProcThreadAttribute(list_, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles_.data(),
                                     handles_.size() * sizeof(HANDLE), nullptr, nullptr)) {
      throw Error("cannot start the worker: cannot limit the inherited handles",
                  win32::last_error());
    }
  }
  HandleList(const HandleList&) = delete;
  HandleList& operator=(const HandleList&) = delete;
  ~HandleList() {
    if (list_ != nullptr) ::DeleteProcThreadAttributeList(list_);
  }
  [[nodiscard]] LPPROC_THREAD_ATTRIBUTE_LIST get() const noexcept { return list_; }

 private:
  std::vector<HANDLE> handles_;
  std::vector<unsigned char> storage_;
  LPPROC_THREAD_ATTRIBUTE_LIST list_ = nullptr;
};

/// Sets whether `job` kills its processes when its last handle closes.
bool set_kill_on_close(HANDLE job, bool kill) noexcept {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION info{};
  info.BasicLimitInformation.LimitFlags = kill ? JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE : 0;
  return ::SetInformationJobObject(job, JobObjectExtendedLimitInformation, &info, sizeof info) !=
         FALSE;
}

/// A job for the suspended child `process`, or none if the system refuses (then kill_group()
/// reaches the child alone, and there is no lifeline).
UniqueHandle make_job(HANDLE process, bool kill_with_host) noexcept {
  UniqueHandle job(::CreateJobObjectW(nullptr, nullptr));
  if (!job.valid()) return {};
  if (kill_with_host && !set_kill_on_close(job.get(), true)) return {};
  if (!::AssignProcessToJobObject(job.get(), process)) {
    // Without kill-on-close, closing the job must not touch the child; with it, the child
    // is not in the job, so closing kills nothing either.
    return {};
  }
  return job;
}

void reaped_with(Process::Native& n, DWORD code) noexcept {
  n.exit_code = static_cast<int>(code);
  // Reaping disarms the lifeline, as on POSIX: what the child left running is not ours to
  // kill once the child is gone.
  if (n.kill_on_close && n.job.valid()) set_kill_on_close(n.job.get(), false);
  n.kill_on_close = false;
  n.job.reset();
  n.process.reset();
}

void kill_tree(Process::Native* n) noexcept {
  if (n == nullptr || n->exit_code || !n->process.valid()) return;
  if (n->job.valid()) ::TerminateJobObject(n->job.get(), kKilledExitCode);
  // Also the child alone, in case it is not in the job (it could not be made).
  ::TerminateProcess(n->process.get(), kKilledExitCode);
}

}  // namespace

Process Process::spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    throw Error("cannot start a worker: empty command line");
  }
  for (const auto& arg : options.argv) {
    if (arg.find('\0') != std::string::npos) {
      throw Error(fmt::format("cannot start worker '{}': an argument holds a NUL character",
                              options.argv[0]));
    }
  }
  Launch launch = resolve_launch(options);
  if (launch.command_line.size() >= kMaxCommandLine) {
    throw Error(fmt::format(
        "cannot start worker '{}': its command line is {} characters long, and Windows allows "
        "{}; pass long data through stdin or a file instead",
        options.argv[0], launch.command_line.size(), kMaxCommandLine - 1));
  }
  std::wstring env = environment_block(options.env);
  const std::wstring cwd = win32::to_wide(options.cwd);

  UniqueHandle in_ours, in_child, out_ours, out_child, err_ours, err_child;
  make_stdin_pipe(in_ours, in_child);
  make_output_pipe(out_ours, out_child);
  make_output_pipe(err_ours, err_child);
  HandleList inherit({in_child.get(), out_child.get(), err_child.get()});

  STARTUPINFOEXW si{};
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = in_child.get();
  si.StartupInfo.hStdOutput = out_child.get();
  si.StartupInfo.hStdError = err_child.get();
  si.lpAttributeList = inherit.get();
  PROCESS_INFORMATION pi{};
  // Suspended until it is in its job: a child that ran at once could start a grandchild
  // outside the job. No window: a worker is not a console program of the user's.
  const DWORD flags = CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT |
                      EXTENDED_STARTUPINFO_PRESENT;
  if (!::CreateProcessW(launch.application.c_str(), launch.command_line.data(), nullptr, nullptr,
                        TRUE, flags, env.data(), cwd.empty() ? nullptr : cwd.c_str(),
                        &si.StartupInfo, &pi)) {
    const std::error_code ec = win32::last_error();
    std::string cwd_note = options.cwd.empty() ? "" : fmt::format(" in '{}'", options.cwd);
    throw Error(fmt::format("cannot start worker '{}'{} (check that it exists, is a program, and "
                            "that the working directory exists)",
                            options.argv[0], cwd_note),
                ec);
  }
  UniqueHandle process(pi.hProcess), thread(pi.hThread);

  Process p;
  p.native_ = std::make_unique<Native>();
  Native& n = *p.native_;
  n.job = make_job(process.get(), options.kill_with_host);
  n.kill_on_close = options.kill_with_host && n.job.valid();
  if (::ResumeThread(thread.get()) == static_cast<DWORD>(-1)) {
    const std::error_code ec = win32::last_error();
    ::TerminateProcess(process.get(), kKilledExitCode);
    throw Error(fmt::format("cannot start worker '{}': it was created but could not be resumed",
                            options.argv[0]),
                ec);
  }
  n.process = std::move(process);
  n.pid = pi.dwProcessId;
  n.stdin_pipe = std::move(in_ours);
  n.stdout_pipe = std::move(out_ours);
  n.stderr_pipe = std::move(err_ours);
  return p;
}

Process::Process() noexcept = default;

Process::Process(Process&& other) noexcept = default;

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (native_ && !native_->exit_code) try_reap();
    // Destroying our Native closes its job: an armed lifeline kills the tree, as the
    // destructor's would.
    native_ = std::move(other.native_);
  }
  return *this;
}

Process::~Process() {
  if (native_ && !native_->exit_code) try_reap();
}

std::int64_t Process::pid() const noexcept {
  return native_ ? static_cast<std::int64_t>(native_->pid) : -1;
}

std::optional<int> Process::exit_code() const noexcept {
  return native_ ? native_->exit_code : std::nullopt;
}

bool Process::has_lifeline() const noexcept {
  return native_ && native_->kill_on_close;
}

std::error_code Process::write_stdin(std::string_view data) noexcept {
  if (!native_ || !native_->stdin_pipe.valid()) {
    return std::make_error_code(std::errc::broken_pipe);
  }
  while (!data.empty()) {
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(data.size(), DWORD{1} << 30));
    DWORD written = 0;
    // A reader that is gone gives ERROR_NO_DATA (closing) or ERROR_BROKEN_PIPE, both
    // broken_pipe; Windows has no SIGPIPE.
    if (!::WriteFile(native_->stdin_pipe.get(), data.data(), chunk, &written, nullptr)) {
      return win32::last_error();
    }
    data.remove_prefix(written);
  }
  return {};
}

void Process::close_stdin() noexcept {
  if (native_) native_->stdin_pipe.reset();
}

void Process::close_output() noexcept {
  if (!native_) return;
  native_->stdout_pipe.reset();
  native_->stderr_pipe.reset();
}

std::optional<int> Process::try_reap() noexcept {
  if (!native_ || native_->exit_code) return exit_code();
  DWORD code = 0;
  if (::WaitForSingleObject(native_->process.get(), 0) == WAIT_OBJECT_0 &&
      ::GetExitCodeProcess(native_->process.get(), &code)) {
    reaped_with(*native_, code);
  }
  return native_->exit_code;
}

int Process::wait() noexcept {
  if (!native_) return -1;
  if (native_->exit_code) return *native_->exit_code;
  DWORD code = 0;
  if (::WaitForSingleObject(native_->process.get(), INFINITE) != WAIT_OBJECT_0 ||
      !::GetExitCodeProcess(native_->process.get(), &code)) {
    code = static_cast<DWORD>(-1);
  }
  reaped_with(*native_, code);
  return *native_->exit_code;
}

bool Process::exited_unreaped() const noexcept {
  return native_ && !native_->exit_code &&
         ::WaitForSingleObject(native_->process.get(), 0) == WAIT_OBJECT_0;
}

void Process::terminate_group() noexcept {
  // Windows has no request to stop that reaches a whole job: console control events need a
  // console shared with the child (a worker has a hidden one of its own) and cannot be sent to
  // a job, and WM_CLOSE needs a window. Python's Popen.terminate() is TerminateProcess too.
  // So this kills, as kill_group() does. It leaves stdin alone: another thread may be writing
  // to it (close_stdin() and write_stdin() are not synchronised with each other).
  kill_tree(native_.get());
}

void Process::kill_group() noexcept {
  kill_tree(native_.get());
}

std::int64_t current_process_id() noexcept {
  return ::GetCurrentProcessId();
}

std::string find_executable(std::string_view name, const std::vector<std::string>& dirs) {
  if (name.empty()) return {};
  const std::wstring wide = win32::to_wide(name);
  const auto exts = program_extensions();
  if (is_absolute(wide)) {
    auto found = program_at(wide, exts);
    return found ? win32::to_utf8(*found) : std::string();
  }
  for (const auto& dir : dirs) {
    if (dir.empty()) continue;
    if (auto found = program_at(join(win32::to_wide(dir), wide), exts)) {
      return win32::to_utf8(*found);
    }
  }
  return {};
}

std::string executable_problem(const std::string& path) {
  const std::wstring wide = win32::to_wide(path);
  const DWORD attrs = ::GetFileAttributesW(wide.c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) {
    const std::error_code ec = win32::last_error();
    return ec == std::errc::no_such_file_or_directory
               ? "does not exist"
               : fmt::format("cannot be read ({})", ec.message());
  }
  if ((attrs & FILE_ATTRIBUTE_DIRECTORY) != 0) return "is a directory, not the executable";
  if ((attrs & FILE_ATTRIBUTE_DEVICE) != 0) return "is not a regular file";
  const auto exts = program_extensions();
  const std::wstring_view ext = extension_of(wide);
  if (ext.empty() ||
      std::none_of(exts.begin(), exts.end(), [&](const auto& e) { return same_name(ext, e); })) {
    return "is not a program (Windows runs only files whose extension is in PATHEXT, such as "
           ".exe)";
  }
  return {};
}

std::vector<std::string> path_dirs() {
  const auto path = own_variable(L"PATH");
  return path ? split_path(win32::to_utf8(*path)) : std::vector<std::string>();
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> dirs;
  if (path.empty()) return dirs;
  // As cmd.exe reads PATH: quotes are dropped, and a ';' between them (in a directory's name)
  // does not separate.
  std::string dir;
  bool quoted = false;
  for (char c : path) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      dirs.push_back(std::move(dir));
      dir.clear();
    } else {
      dir += c;
    }
  }
  dirs.push_back(std::move(dir));
  return dirs;
}

}  // namespace appose::detail::platform
