"""NAME
    simlab.postfix.config - Postfix's configuration layer (main.cf, master.cf)

SUMMARY
    from simlab.postfix.config import load_config, Config, HostFacts, read_master_cf
    cfg = load_config(config_dir, facts=HostFacts(hostname="mail.example.com"))
    smtpd_cfg = cfg.for_service(read_master_cf(config_dir)[0])

DESCRIPTION
    params     the parameter table (PARAMS), built from a capture of postconf -d
    hostfacts  HostFacts and the defaults Postfix derives from the machine
    errors     ConfigError, carrying Postfix's fatal message
    maincf     main.cf syntax and postconf -e/-X/-# editing
    mastercf   master.cf entries (MasterService, read_master_cf)
    masterfmt  postconf -M/-F/-P output and master.cf editing
    expand     $name expansion (mac_expand)
    namespace  name spaces, computed defaults, user-defined parameters
    config     Config and load_config()
    fallback   parameter values with a default for unknown names (param_int, ParamGetters)

    See postconf(5), master(5).
"""

from __future__ import annotations

from .config import Config, load_config, split_list
from .errors import ConfigError
from .hostfacts import HostFacts
from .mastercf import MasterService, read_master_cf
from .params import NO_EFFECT, PARAMS, ParamDef

__all__ = ["Config", "ConfigError", "HostFacts", "MasterService", "NO_EFFECT", "PARAMS",
           "ParamDef", "load_config", "read_master_cf", "split_list"]
