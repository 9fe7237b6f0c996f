from .se import *  # noqa: F401,F403
from .cbam import *  # noqa: F401,F403
from .sk import *  # noqa: F401,F403
from .split_attention import *  # noqa: F401,F403
from .double_attention import *  # noqa: F401,F403
from .sge import *  # noqa: F401,F403
from .scse import *  # noqa: F401,F403
from .scconv import *  # noqa: F401,F403
