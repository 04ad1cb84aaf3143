// The probes a check reaches the host through: processes, HTTP, TCP, the filesystem, and what
// later kinds bring (SQL, a container engine, X.509, AWS). A check asks for the interface it
// needs; unit tests install fakes first. A new probe is a new interface with a static
// `make_real()` beside its real implementation: nothing here, and no other kind, changes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <typeindex>

namespace hook {

// --- Interface ---

class Probes
{
public:
  Probes()
      : m_shared(std::make_shared<Shared>())
  {}

  // Use `probe` whenever a check asks for a P. Copies of this object share the installation.
  template <typename P>
  void
  install(std::shared_ptr<P> probe)
  {
    const std::lock_guard lock(m_shared->mutex);
    m_shared->probes[std::type_index(typeid(P))] = std::move(probe);
  }

  // Return the P installed, else P's real implementation (P::make_real(), made once and kept).
  // The pointer is shared: an attempt abandoned after its timeout keeps what it uses alive.
  template <typename P>
  std::shared_ptr<P>
  get() const
  {
    const std::lock_guard lock(m_shared->mutex);
    auto& slot = m_shared->probes[std::type_index(typeid(P))];
    if (!slot) {
      slot = P::make_real();
    }
    return std::static_pointer_cast<P>(slot);
  }

private:
  struct Shared
  {
    std::mutex mutex;
    std::map<std::type_index, std::shared_ptr<void>> probes;
  };
  std::shared_ptr<Shared> m_shared;
};

} // namespace hook
