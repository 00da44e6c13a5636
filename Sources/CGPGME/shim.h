#ifndef CGPGME_SHIM_H
#define CGPGME_SHIM_H
#include <gpgme.h>
#include <locale.h>

// gpgme_check_version is a macro (it passes a structure offset to check the ABI), which Swift cannot call.
static inline const char *vb_gpgme_initialize(void) {
    const char *version = gpgme_check_version(NULL);
    gpgme_set_locale(NULL, LC_CTYPE, setlocale(LC_CTYPE, NULL));
    return version;
}
#endif
