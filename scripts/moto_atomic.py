"""moto's server, answering one request at a time, as the project's scripts and tests start it.

moto looks a name up and stores the new resource in two steps, under a lock of neither: CreateRole checks
that no role has the name, builds the role, then stores it under a fresh random id. Two concurrent
CreateRole calls for one name can both pass the check and leave two roles of that name, where AWS refuses
the second with EntityAlreadyExists. The tests deliver one request ten times at once and count roles, so
every call here is made atomic, as each AWS call is. Races between calls, which the product must handle,
are untouched. moto holds the GIL for almost all of a request, so serving one at a time costs little.

A page token of the Resource Groups Tagging API is used up by the page it asks for: moto forgets it, except
after the last page, where asking again with it answers a one-resource page as if the listing were complete.
Here every used token is forgotten, so a page asked for again (its answer was lost) is refused with
PaginationTokenExpiredException, the answer AWS gives once a token is 15 minutes old, instead of silently
truncating the listing.

A GetResources that names resources by ARN (ResourceARNList, at most 100) is answered whole, as AWS does: AWS
refuses it with a page size, a page token or a filter, and returns no page token. moto paged it by its
defaults (50 resources, 100 tags) and walked every resource of the account to answer it; here notebook
instances named by ARN are looked up directly, so a call costs what it costs on AWS, not more as the
account grows.

ensure_emulator (scripts/lib.sh) installs this file as the virtualenv's `moto_server_atomic`.
"""

import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.core.responses import ActionResult
from moto.resourcegroupstaggingapi.exceptions import ResourceGroupsTaggingAPIError
from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse
from moto.sagemaker.models import sagemaker_backends

_one_at_a_time = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _atomic(self, environ, start_response):
    with _one_at_a_time:
        return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _atomic

_get_resources = ResourceGroupsTaggingAPIBackend.get_resources


def _get_resources_once_per_token(self, pagination_token=None, **kwargs):
    try:
        return _get_resources(self, pagination_token=pagination_token, **kwargs)
    finally:
        if pagination_token:
            self._pages.pop(pagination_token, None)


ResourceGroupsTaggingAPIBackend.get_resources = _get_resources_once_per_token

_get_resources_response = ResourceGroupsTaggingAPIResponse.get_resources
_NOT_WITH_ARNS = ("ResourcesPerPage", "TagsPerPage", "PaginationToken", "ResourceTypeFilters", "TagFilters")


def _get_resources_by_arn(self):
    arns = self._get_param("ResourceARNList", [])
    if not arns:
        return _get_resources_response(self)
    clashing = [name for name in _NOT_WITH_ARNS if self._get_param(name)]
    if clashing:
        raise ResourceGroupsTaggingAPIError(
            "InvalidParameterException", f"ResourceARNList cannot be combined with {', '.join(clashing)}"
        )
    if len(arns) > 100:
        raise ResourceGroupsTaggingAPIError("InvalidParameterException", "ResourceARNList holds at most 100 ARNs")
    if not all(":notebook-instance/" in arn for arn in arns):
        _, found = self.backend.get_resources(resources_per_page=100, tags_per_page=10**9, resource_arn_list=arns)
        mapped = [(r.arn, [{"Key": k, "Value": v} for k, v in r.tags.items()]) for r in found]
    else:
        wanted = set(arns)
        notebooks = sagemaker_backends[self.current_account][self.region].notebook_instances.values()
        mapped = [(n.arn, list(n.tags or [])) for n in notebooks if n.arn in wanted and n.tags]
    return ActionResult({"ResourceTagMappingList": [{"ResourceARN": arn, "Tags": tags} for arn, tags in mapped]})


ResourceGroupsTaggingAPIResponse.get_resources = _get_resources_by_arn

if __name__ == "__main__":
    sys.exit(server.main())
