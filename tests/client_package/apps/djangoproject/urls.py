from django.urls import path
from rozitech_auth.django.views import CurrentIdentityView

urlpatterns = [path("me", CurrentIdentityView.as_view())]
