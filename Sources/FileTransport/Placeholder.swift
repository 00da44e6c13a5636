enum FileTransportPlaceholder {}
