#include "device_tensors.h"

namespace gridsample::cli {

DeviceTensors::~DeviceTensors() {
    if (session_) {
        session_->synchronize();
        for (void* b : buffers_) session_->release(b);
    }
}

Status DeviceTensors::open(Device device) {
    if (device.type == DeviceType::cpu) return Status::Ok();
    return device_memory::Session::open(device, session_);
}

Stream DeviceTensors::stream() const { return session_ ? session_->stream() : Stream{}; }

Status DeviceTensors::place(const TensorView& host, size_t bytes, bool upload, TensorView* placed) {
    *placed = host;
    if (!session_) return Status::Ok();
    placed->device = session_->device();
    if (host.data == nullptr) return Status::Ok();
    void* handle = nullptr;
    if (Status s = session_->allocate(bytes, &handle); !s.ok()) return s;
    buffers_.push_back(handle);
    placed->data = handle;
    if (upload) return session_->upload(handle, host.data, bytes);
    return Status::Ok();
}

Status DeviceTensors::fetch(const TensorView& placed, size_t bytes, void* host) {
    if (!session_ || placed.data == nullptr) return Status::Ok();
    if (Status s = session_->synchronize(); !s.ok()) return s;
    return session_->download(host, placed.data, bytes);
}

}  // namespace gridsample::cli
